use super::*;
use test_case::test_case;

fn redact(input: &str) -> String {
    let mut spans = Vec::new();
    find(input.as_bytes(), &mut spans);
    spans.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut out = String::new();
    let mut at = 0;
    for (r, label) in spans {
        if r.start < at {
            at = at.max(r.end);
            continue;
        }
        out.push_str(&input[at..r.start]);
        out.push_str(&label);
        at = r.end;
    }
    out.push_str(&input[at..]);
    out
}

#[test]
fn every_rule_compiles() {
    assert!(rules().is_some());
    assert!(keywords().is_some());
}

#[test_case("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: [REDACTED:context]"; "basic header")]
#[test_case("proxy-authorization: Digest username=\"a\", response=\"6629fae49393a05397450978507c4ef1\"", "proxy-authorization: [REDACTED:context]"; "digest proxy header")]
#[test_case("Authorization: Token abcdef123456", "Authorization: [REDACTED:context]"; "token scheme")]
#[test_case("curl -H 'x-api-key: 0123456789abcdef' url", "curl -H 'x-api-key: [REDACTED:context]' url"; "x-api-key header")]
#[test_case("x-goog-api-key: abcdefgh12345678", "x-goog-api-key: [REDACTED:context]"; "goog api key header")]
#[test_case("{\"Authorization\": \"Bearer abc.def.ghi\"}", "{\"Authorization\": \"[REDACTED:context]\"}"; "header in json")]
#[test_case("password=hunter2hunter2", "password=[REDACTED:context]"; "password assignment")]
#[test_case("passwd: s3cr3t!!", "passwd: [REDACTED:context]"; "passwd yaml")]
#[test_case("pwd=abcd1234 user=x", "pwd=[REDACTED:context] user=x"; "pwd")]
#[test_case("export MISTRAL_API_KEY=\"abcdEFGH1234abcdEFGH1234abcdEFGH\"", "export MISTRAL_API_KEY=\"[REDACTED:context]\""; "quoted env assignment")]
#[test_case("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED:context]"; "aws ini")]
#[test_case("\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",", "\"SecretAccessKey\": \"[REDACTED:context]\","; "aws json")]
#[test_case("{\"client_secret\":\"abc123def456\",\"x\":1}", "{\"client_secret\":\"[REDACTED:context]\",\"x\":1}"; "json client secret")]
#[test_case("{\\\"password\\\": \\\"pa55word\\\"}", "{\\\"password\\\": \\\"[REDACTED:context]\\\"}"; "json escaped inside json")]
#[test_case("\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\n-----END PRIVATE KEY-----\\n\"", "\"private_key\": \"[REDACTED:context]\""; "gcp private key field")]
#[test_case("run --api-key=abcdef123456 now", "run --api-key=[REDACTED:context] now"; "flag equals")]
#[test_case("run --token abcdef123456 now", "run --token [REDACTED:context] now"; "flag space")]
#[test_case("run --password 'p a s s' now", "run --password '[REDACTED:context]' now"; "flag quoted")]
#[test_case("postgres://app:s3cretpw@db:5432/app", "postgres://app:[REDACTED:context]@db:5432/app"; "postgres url")]
#[test_case("redis://:hunter22@cache:6379", "redis://:[REDACTED:context]@cache:6379"; "redis no user")]
#[test_case("mongodb+srv://u:p4ssw0rd@c0.mongodb.net/x", "mongodb+srv://u:[REDACTED:context]@c0.mongodb.net/x"; "mongo srv")]
#[test_case("https_proxy=http://me:pr0xypw@proxy:3128", "https_proxy=http://me:[REDACTED:context]@proxy:3128"; "proxy url")]
#[test_case("GET /x?token=abcdef123&page=2", "GET /x?token=[REDACTED:context]&page=2"; "query token")]
#[test_case("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIDEXAMPLE%2F20130524&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404", "https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED:context]&X-Amz-Signature=[REDACTED:context]"; "presigned s3")]
#[test_case("?sv=2022-11-02&sig=abcDEF123%2Bxyz%3D", "?sv=2022-11-02&sig=[REDACTED:context]"; "azure sas")]
#[test_case("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=YWJjZGVmZ2hpams=;EndpointSuffix=core.windows.net", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED:context];EndpointSuffix=core.windows.net"; "azure connection string")]
#[test_case("AZURE_DEVOPS_EXT_PAT=br0us8xbe3fscmqmuuqehkgy5t3webzvezidpql15rwiukq5k3b5", "AZURE_DEVOPS_EXT_PAT=[REDACTED:context]"; "pat variable")]
#[test_case("//registry.npmjs.org/:_authToken=abcdef123456", "//registry.npmjs.org/:_authToken=[REDACTED:context]"; "npmrc")]
fn a_secret_in_context_is_redacted(input: &str, expected: &str) {
    assert_eq!(redact(input), expected);
}

#[test_case("max_tokens: 4096"; "token counts")]
#[test_case("tokens: 123456789"; "plural")]
#[test_case("token_type: Bearer"; "token type")]
#[test_case("password: null"; "null")]
#[test_case("password=\"\""; "empty")]
#[test_case("password: ********"; "stars")]
#[test_case("password=${DB_PASSWORD}"; "variable reference")]
#[test_case("api_key: $OPENAI_API_KEY"; "shell variable")]
#[test_case("password: <redacted>"; "marker")]
#[test_case("const t = {token:e.token,x:1}"; "code reference")]
#[test_case("DB_PASSWORD_FILE=/run/secrets/db"; "file variable")]
#[test_case("aws_access_key_id = AKID"; "key id is not the secret")]
#[test_case("author: Jane Doe"; "author is not auth")]
#[test_case("https://example.com/path?page=2&q=rust"; "plain query")]
#[test_case("git@github.com:owner/repo.git"; "ssh remote")]
#[test_case("bypass: enabled"; "bypass")]
fn ordinary_text_is_left_alone(input: &str) {
    assert_eq!(redact(input), input);
}

#[test_case(b"-----BEGIN RSA PRIVATE KEY-----" => true)]
#[test_case(b"  \"-----BEGIN OPENSSH PRIVATE KEY-----\"" => true)]
#[test_case(b"-----BEGIN PGP PRIVATE KEY BLOCK-----" => true)]
#[test_case(b"-----BEGIN CERTIFICATE-----" => false)]
#[test_case(b"-----BEGIN PUBLIC KEY-----" => false)]
fn pem_begin_lines(line: &[u8]) -> bool {
    pem_begin(line)
}

#[test_case(b"-----END EC PRIVATE KEY-----" => true)]
#[test_case(b"-----END CERTIFICATE-----" => false)]
fn pem_end_lines(line: &[u8]) -> bool {
    pem_end(line)
}

#[test]
fn a_whole_pem_block_is_redacted_and_the_text_around_it_kept() {
    let input = "before\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB5Xk3+abc/def=\nAoGBAMx1+zz\n-----END EC PRIVATE KEY-----\nafter\n";
    assert_eq!(redact(input), "before\n[REDACTED:private-key]\nafter\n");
}

#[test]
fn a_pem_block_without_its_end_is_redacted_through_its_body() {
    let input = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACD+abc=\nnext: ordinary line\n";
    assert_eq!(
        redact(input),
        "[REDACTED:private-key]\nnext: ordinary line\n"
    );
}

#[test_case(b"DB_PASSWORD" => true)]
#[test_case(b"apiKey" => true)]
#[test_case(b"--api-key" => true)]
#[test_case(b"client_secret" => true)]
#[test_case(b"private_key_id" => true)]
#[test_case(b"refresh_token" => true)]
#[test_case(b"_auth" => true)]
#[test_case(b"tokenizer" => false)]
#[test_case(b"password_file" => false)]
#[test_case(b"aws_access_key_id" => false)]
#[test_case(b"keyboard" => false)]
fn secret_key_names(name: &[u8]) -> bool {
    is_secret_key_name(name)
}
