//! One row per signal shape, written from the signal's documented form (the
//! providers' error bodies, errno names, shell and loader messages), plus the
//! tolerance and precedence rules. The corpus replay measures the layer on
//! real messages it was not written from.

use test_case::test_case;

use super::*;

fn stderr_only(s: &str) -> StreamText {
    StreamText::split(b"", false, s.as_bytes(), false)
}

fn verdict(stderr: &str) -> Option<(String, &'static str)> {
    detect(&stderr_only(stderr), "/work/repo", Some(1)).map(|v| (v.class.to_string(), v.rule))
}

#[test]
fn every_signal_compiles() {
    assert_eq!(compiled().set.len(), SIGNALS.len());
}

// HTTP statuses and API error types, in text and in JSON bodies.
#[test_case("Error: 401 Unauthorized", "auth_unavailable"; "401 text")]
#[test_case(r#"API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#, "auth_unavailable"; "anthropic 401 body")]
#[test_case("HTTP/1.1 403 Forbidden", "auth_unavailable"; "403")]
#[test_case("Request failed with status code 402", "quota_exhausted"; "402")]
#[test_case(r#"Error code: 429 - {'error': {'message': 'You exceeded your current quota, please check your plan and billing details.', 'type': 'insufficient_quota'}}"#, "quota_exhausted"; "429 insufficient quota is a quota")]
#[test_case("openai.RateLimitError: Error code: 429 - Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000", "rate_limited"; "429 per minute is a throttle")]
#[test_case("status 429 Too Many Requests", "rate_limited"; "429 plain")]
#[test_case("Quota exceeded for quota metric 'Gemini 2.5 Pro Requests' and limit 'Gemini 2.5 Pro Requests per day per user per tier'", "quota_exhausted"; "gemini daily quota")]
#[test_case("Quota exceeded for quota metric 'Generate Content API requests per minute'", "rate_limited"; "gemini per minute quota")]
#[test_case("400 This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", "payload_invalid"; "400 context length")]
#[test_case("prompt is too long: 210000 tokens > 200000 maximum", "payload_invalid"; "prompt too long")]
#[test_case("404 The model `gpt-9` does not exist or you do not have access to it.", "config_invalid"; "404 model")]
#[test_case("API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", "transient_io"; "529 overloaded")]
#[test_case("upstream connect error or disconnect/reset before headers. reset reason: overflow (status 503)", "transient_io"; "503")]
#[test_case("Request timed out (408)", "transient_io"; "408")]
fn http_and_api_errors(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

// OS and runtime error shapes.
#[test_case("Error: spawn claude ENOENT", "cli_missing"; "spawn enoent")]
#[test_case("/bin/sh: 1: codex: not found", "cli_missing"; "dash not found")]
#[test_case("bash: gemini: command not found", "cli_missing"; "bash not found")]
#[test_case("/usr/bin/env: 'node': No such file or directory", "interpreter_missing"; "env node")]
#[test_case("env: node: No such file or directory", "interpreter_missing"; "mac env node")]
#[test_case("/home/u/.local/bin/aider: bad interpreter: No such file or directory", "interpreter_missing"; "bad interpreter")]
#[test_case("bash: /usr/local/bin/codex: cannot execute binary file: Exec format error", "cli_not_executable"; "exec format")]
#[test_case("Error: spawn /opt/cli/claude EACCES", "cli_not_executable"; "spawn eacces")]
#[test_case("Error: connect ECONNREFUSED 127.0.0.1:8080", "network_unavailable"; "econnrefused")]
#[test_case("Error: getaddrinfo ENOTFOUND api.anthropic.com", "network_unavailable"; "enotfound")]
#[test_case("getaddrinfo EAI_AGAIN generativelanguage.googleapis.com", "network_unavailable"; "eai again")]
#[test_case("TypeError: fetch failed", "network_unavailable"; "fetch failed")]
#[test_case("Error: unable to get local issuer certificate", "network_unavailable"; "tls")]
#[test_case("Error: read ECONNRESET", "transient_io"; "econnreset")]
#[test_case("Error: ENOSPC: no space left on device, write", "transient_io"; "enospc")]
#[test_case("Error: ENOENT: no such file or directory, chdir '/work/repo'", "cwd_missing"; "chdir")]
#[test_case("Error: ENOENT: no such file or directory, uv_cwd", "cwd_missing"; "uv cwd")]
#[test_case("fatal: cannot change to '/work/repo': No such file or directory", "cwd_missing"; "the cwd named")]
fn os_and_runtime_shapes(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

// Sandboxes and configuration parsers.
#[test_case("bwrap: Can't create file at /proc/self/uid_map: Permission denied", "sandbox_or_policy_block"; "bwrap")]
#[test_case("error: landlock ruleset could not be applied", "sandbox_or_policy_block"; "landlock")]
#[test_case("sandbox-exec: sandbox_apply: Operation not permitted", "sandbox_or_policy_block"; "macos sandbox")]
#[test_case("Error: EACCES: permission denied, open '/home/svc/.config/x'", "sandbox_or_policy_block"; "eacces path")]
#[test_case("TOML parse error at line 3, column 9", "config_invalid"; "toml")]
#[test_case("Error: unknown field `modle`, expected one of `model`, `provider` at line 2 column 1", "config_invalid"; "serde unknown field")]
#[test_case("SyntaxError: Unexpected token } in JSON at position 120", "config_invalid"; "json syntax")]
#[test_case("yaml.scanner.ScannerError: mapping values are not allowed here", "config_invalid"; "yaml")]
#[test_case("error: unexpected argument '--quiet' found", "config_invalid"; "clap")]
#[test_case("Error loading MCP server config: invalid command", "config_invalid"; "mcp")]
fn sandbox_and_config(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

#[test]
fn a_python_traceback_is_read_at_its_final_exception_line() {
    let tb = "Traceback (most recent call last):\n  File \"/x/aider/main.py\", line 10, in main\n    raise RateLimitError(\"slow\")\n  File \"/x/litellm/main.py\", line 3, in completion\n    raise AuthenticationError(msg)\nlitellm.exceptions.AuthenticationError: AnthropicException - invalid x-api-key\n";
    let v = detect(&stderr_only(tb), "/w", Some(1)).expect("a verdict");
    assert_eq!(v.class, Class::AuthUnavailable);
    assert!(
        v.evidence
            .starts_with("litellm.exceptions.AuthenticationError"),
        "{}",
        v.evidence
    );
}

#[test]
fn node_stack_frames_are_never_evidence() {
    let err = "Error: connect ECONNREFUSED 127.0.0.1:443\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n    at /x/node_modules/rate-limit/index.js:1:1\n\nNode.js v20.11.1\n";
    let v = detect(&stderr_only(err), "/w", Some(1)).expect("a verdict");
    assert_eq!(v.class, Class::NetworkUnavailable);
}

#[test]
fn a_pretty_printed_json_body_is_read_as_one_block() {
    let body = "Error: [\n{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"You exceeded your current quota, please check your plan and billing details.\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n]\n";
    let v = detect(&stderr_only(body), "/w", Some(1)).expect("a verdict");
    assert_eq!(v.class, Class::QuotaExhausted, "{v:?}");
}

#[test]
fn a_message_wrapped_over_two_lines_still_matches() {
    let v = verdict("Error: the request failed: Too many\nrequests, slow down\n");
    assert_eq!(v.map(|v| v.0).as_deref(), Some("rate_limited"));
}

#[test_case("\x1b[31m✕ [API Error: 401 Unauthorized]\x1b[0m"; "gemini coloured")]
#[test_case("2026-06-01T10:00:00.123Z ERROR codex_core::client: unexpected status 401 Unauthorized"; "codex tracing")]
#[test_case("■ Error: 401 Unauthorized"; "bullet")]
#[test_case("{\\\"error\\\":{\\\"message\\\":\\\"Unauthorized\\\"}}"; "json escaped")]
fn prefixes_and_colours_do_not_matter(line: &str) {
    assert_eq!(
        verdict(line).map(|v| v.0).as_deref(),
        Some("auth_unavailable"),
        "{line}"
    );
}

#[test]
fn the_newest_signal_decides_across_blocks() {
    let v = verdict(
        "Error: 429 Too Many Requests, retrying\n\nError: getaddrinfo ENOTFOUND api.openai.com\n",
    );
    assert_eq!(v.map(|v| v.0).as_deref(), Some("network_unavailable"));
}

#[test]
fn stderr_outranks_the_models_words_on_stdout() {
    let text = StreamText::split(
        b"The log shows 401 Unauthorized errors from the old key.\n",
        false,
        b"Error: connect ECONNREFUSED 10.0.0.1:443\n",
        false,
    );
    let v = detect(&text, "/w", Some(1)).expect("a verdict");
    assert_eq!(v.class, Class::NetworkUnavailable);
}

#[test]
fn permission_denied_is_an_exec_failure_only_at_126() {
    let text = stderr_only("/bin/sh: 1: /opt/x/codex: Permission denied\n");
    assert_eq!(
        detect(&text, "/w", Some(126)).map(|v| v.class),
        Some(Class::CliNotExecutable)
    );
    assert_eq!(
        detect(&text, "/w", Some(1)).map(|v| v.class),
        Some(Class::SandboxOrPolicyBlock)
    );
}

#[test_case("Build finished in 3.2s"; "ordinary")]
#[test_case("warning: unused variable `x`"; "compiler warning")]
#[test_case("Wrote 3 files; 12 tests passed"; "report")]
#[test_case("Using model gpt-5 with 200000 context"; "banner")]
fn ordinary_lines_carry_no_signal(line: &str) {
    assert_eq!(verdict(line), None, "{line}");
}

// Runtime and packaging shapes that name their cause without any CLI's wording.
#[test_case("/usr/local/bin/codex: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.39' not found (required by /usr/local/bin/codex)", "cli_not_executable"; "glibc too old for the binary")]
#[test_case("zsh: bad CPU type in executable: /usr/local/bin/opencode", "cli_not_executable"; "wrong architecture")]
#[test_case("npm ERR! could not determine executable to run", "cli_missing"; "npx without the package")]
#[test_case("bash: /home/svc/.npm-global/bin/claude: No such file or directory", "cli_missing"; "a shell exec of a removed path")]
#[test_case("TypeError: text.replaceAll is not a function", "interpreter_missing"; "node too old for the bundle")]
#[test_case("ERROR: Package 'aider-chat' requires a different Python: 3.8.10 not in '>=3.10'", "interpreter_missing"; "python too old")]
#[test_case("--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons", "sandbox_or_policy_block"; "claude as root")]
#[test_case("ERROR: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", "sandbox_or_policy_block"; "a docker sandbox without its daemon")]
#[test_case("Error: unknown flag: --prompt-file", "config_invalid"; "cobra unknown flag")]
#[test_case("error: invalid value 'gpt-9' for '--model <MODEL>'", "config_invalid"; "clap invalid value")]
#[test_case("Error: Please set the OPENAI_API_KEY environment variable", "auth_unavailable"; "an api key variable named")]
#[test_case("FetchError: request to https://api.openai.com/v1/chat/completions failed, reason: connect ECONNREFUSED 10.0.0.2:443", "network_unavailable"; "node-fetch reason")]
#[test_case("Process exited with code 137", "killed_by_signal"; "a wrapper relays the kill")]
#[test_case("Error: You exceeded your monthly quota", "quota_exhausted"; "a monthly quota")]
fn runtime_and_packaging_shapes(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

#[test]
fn an_empty_network_reason_beside_an_auth_failure_is_the_auth_failure() {
    let v = verdict("Cached credentials are not valid: request to https://oauth2.googleapis.com/token failed, reason: \n");
    assert_eq!(v.map(|v| v.0).as_deref(), Some("auth_unavailable"));
}

// Wordings from the CLIs' own sources that no CLI rule names yet.
#[test_case("Codex ran out of room in the model's context window. Start a new conversation or clear earlier history before retrying.", "payload_invalid"; "codex context window")]
#[test_case("Connection failed: error sending request for url (https://api.openai.com/v1/responses)", "network_unavailable"; "codex connection failed")]
#[test_case("Error while reading the server response: error decoding response body, request id: req_1", "transient_io"; "codex stream read")]
#[test_case("Missing environment variable: `OPENAI_API_KEY`.", "auth_unavailable"; "codex env var key")]
#[test_case("codex-linux-sandbox was required but not provided", "sandbox_or_policy_block"; "codex sandbox helper")]
#[test_case("Error: Raw mode is not supported on the current process.stdin, which Ink uses as input stream by default.", "config_invalid"; "an interactive cli run without a tty")]
#[test_case("Error: Input must be provided either through stdin or as a prompt argument when using --print", "payload_invalid"; "claude print without a prompt")]
fn wordings_from_the_clis_sources(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

// Gemini CLI's fatal error classes (packages/core/src/utils/errors.ts), as a
// wrapper or a stack trace prints them: the name carries the class.
#[test_case("FatalAuthenticationError: Failed to exchange authorization code for tokens", "auth_unavailable"; "gemini auth")]
#[test_case("FatalConfigError: Invalid value for --approval-mode", "config_invalid"; "gemini config")]
#[test_case("FatalInputError: No input provided via stdin.", "payload_invalid"; "gemini input")]
#[test_case("FatalUntrustedWorkspaceError: Gemini CLI is not running in a trusted directory", "sandbox_or_policy_block"; "gemini untrusted")]
fn gemini_fatal_error_classes(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

// Shapes added when the first held-out set was read (docs/failure-corpus.md,
// "Round two"), each written from its documented form.
#[test_case("Rate limit exceeded: limit_rpd/some-model/abc", "quota_exhausted"; "requests per day is a quota")]
#[test_case("quotaId: GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quota_exhausted"; "per day quota id")]
#[test_case("* Quota exceeded for metric: x_input_token_count, limit: 0, model: m. Please retry in 12.5s.", "quota_exhausted"; "a limit of zero is a quota")]
#[test_case("You exceeded your current quota. Please retry in 15.002899939s.", "rate_limited"; "a retry in seconds is a throttle")]
#[test_case("node: No such file or directory", "interpreter_missing"; "the interpreter itself is missing")]
#[test_case("Error: EPERM: operation not permitted, uv_cwd", "cwd_missing"; "any uv_cwd error is the cwd")]
#[test_case("ENOENT: no such file or directory, posix_spawn '/bin/sh'", "cwd_missing"; "sh cannot be missing: the cwd is")]
#[test_case("zsh: permission denied: claude", "cli_not_executable"; "zsh exec eacces")]
#[test_case("+ CategoryInfo : ObjectNotFound: (claude:String) [], CommandNotFoundException", "cli_missing"; "powershell in any language")]
#[test_case("Git executable not found. Ensure that Git is installed", "cli_missing"; "executable not found")]
#[test_case("failed to reload config: /home/u/.codex/config.toml:150:77:", "config_invalid"; "config file line and column")]
#[test_case("extra_body: Extra inputs are not permitted", "config_invalid"; "pydantic extra field")]
#[test_case("✖ MCP ERROR (tests): TypeError: fetch failed", "config_invalid"; "an mcp server relaying fetch failed")]
#[test_case("Error during discovery for server 'docs': connect ECONNREFUSED 127.0.0.1:9000", "config_invalid"; "mcp discovery")]
#[test_case("External directory access rejected.", "sandbox_or_policy_block"; "access rejected")]
#[test_case("Error: AI_APICallError: User not found.", "auth_unavailable"; "unknown user of a key")]
#[test_case("stream disconnected before completion: Transport error: network error: error decoding response body", "transient_io"; "decoding error is mid-stream")]
fn round_two_shapes(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

#[test]
fn a_bare_bad_request_names_no_cause() {
    assert_eq!(
        verdict("litellm.BadRequestError: OpenrouterException -"),
        None
    );
}

#[test]
fn advice_after_a_things_to_try_header_is_not_evidence() {
    let out = "Codex crashed with the following error:\n\n  (code=null, signal=SIGSEGV).\nSome things to try:\n\nCheck your config.toml for invalid settings\nTry updating your IDE settings\n";
    assert_eq!(
        verdict(out).map(|v| v.0).as_deref(),
        Some("killed_by_signal")
    );
    // Without the header the same line is evidence.
    assert_eq!(
        verdict("Check your config.toml for invalid settings")
            .map(|v| v.0)
            .as_deref(),
        Some("config_invalid")
    );
}

// Shapes added from the second round's tuning set, each written from its
// documented form.
#[test_case("Claude Code native binary not found at /opt/sdk/claude.", "cli_missing"; "native binary not found")]
#[test_case("Could not find Claude Code command: claude", "cli_missing"; "could not find the command")]
#[test_case("Internal error: {\"data\": \"program not found\"}", "cli_missing"; "program not found")]
#[test_case("Claude Code process exited with code 127", "cli_missing"; "exit 127 is command not found")]
#[test_case("fatal: Unable to read current working directory: Operation not permitted", "sandbox_or_policy_block"; "a cwd the sandbox denies")]
#[test_case("shell-init: error retrieving current directory: getcwd: cannot access parent directories: Operation not permitted", "sandbox_or_policy_block"; "getcwd eperm")]
#[test_case("Failed to connect to api.anthropic.com: Request failed with status code 503", "network_unavailable"; "failed to connect beats a proxy 503")]
#[test_case("API Error: this request appears to violate our Usage Policy", "sandbox_or_policy_block"; "usage policy")]
#[test_case("429 rate_limit_error: Extra usage is required for long context requests.", "quota_exhausted"; "extra usage")]
#[test_case("AbortError: This operation was aborted", "timeout"; "aborted")]
#[test_case("Error code: 400 - {'error': {'message': 'rejected', 'type': 'content_filter'}}", "payload_invalid"; "content filter")]
#[test_case("<400> InternalError.Algo.DataInspectionFailed: Input text data may contain inappropriate content.", "payload_invalid"; "data inspection")]
#[test_case("400 invalid_request_error: max_tokens: 128001 > 64000, which is the maximum allowed number of output tokens", "payload_invalid"; "max tokens over the model's output limit")]
#[test_case("HTTP 429: No capacity available for model x on the server (MODEL_CAPACITY_EXHAUSTED)", "transient_io"; "capacity beats a 429")]
#[test_case("Failed to fetch user info: 401 Unauthorized", "auth_unavailable"; "a status means the fetch connected")]
fn round_two_tuning_shapes(line: &str, class: &str) {
    assert_eq!(verdict(line).map(|v| v.0).as_deref(), Some(class), "{line}");
}

#[test]
fn a_bare_400_names_no_cause() {
    for line in [
        "API Error: 400 {\"error\":{\"code\":400,\"message\":\"Request contains an invalid argument.\",\"status\":\"INVALID_ARGUMENT\"}}",
        "Request failed with status: 400 Bad Request",
    ] {
        assert_eq!(verdict(line), None, "{line}");
    }
}

#[test]
fn an_indented_body_with_aligned_spaces_is_read_but_a_usage_row_is_not() {
    // A pretty-printed, indented error body (aligned with spaces) is evidence.
    let body =
        "Error:\n  '    \"message\": \"Resource has been exhausted (e.g. check quota).\",\\n' +\n";
    assert_eq!(verdict(body).map(|v| v.0).as_deref(), Some("rate_limited"));
    let relayed = "  ⎿  API Error: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}    }\n";
    assert_eq!(
        verdict(relayed).map(|v| v.0).as_deref(),
        Some("transient_io")
    );
    // A usage row after the error is not.
    let usage = "error: unexpected argument '--x'\n\nOptions:\n  --auth-type   Authentication type (api-key, oauth)\n  login         Log in again\n";
    assert_eq!(
        verdict(usage).map(|v| v.0).as_deref(),
        Some("config_invalid")
    );
}
