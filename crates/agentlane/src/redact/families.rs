//! The table of token families (layer 2), written from each provider's public
//! documentation of its credential format (and, for the prefix and length facts,
//! cross-read against public secret-scanner rule sets: gitleaks'
//! `config/gitleaks.toml`, trufflehog detectors, GitHub's secret-scanning
//! partner list). The rules are our own.
//!
//! A row says how its tokens are found ([`Find`]): by a literal prefix followed
//! by a documented body, by a literal that sits inside the token, or — for
//! families whose tokens have no distinctive shape — only by the context rules
//! (layer 3, `context.rs`) next to the variable, header or field names listed.

/// How a family's tokens are recognised.
// The descriptive fields are data for people (and the table's tests), not code.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(super) enum Find {
    /// A literal prefix (case-sensitive, at a word start) then this regex body.
    Prefix(&'static str, &'static str),
    /// A literal that occurs inside every token, and the regex of the whole token.
    Inside(&'static str, &'static str),
    /// No literal at all: this regex runs over the whole input (keep it rare).
    Scan(&'static str),
    /// No distinctive shape: caught by the context rules next to these names.
    Context(&'static str),
}

/// One token family.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(super) struct Family {
    /// Stable id, also the redaction label: `[REDACTED:<id>]`.
    pub id: &'static str,
    /// Who issues the tokens.
    pub provider: &'static str,
    /// How the family's tokens are recognised.
    pub find: Find,
    /// The documented character set of the body.
    pub charset: &'static str,
    /// The documented length (of the body after the prefix, or of the whole token).
    pub length: &'static str,
    /// The checksum the format carries, if any (`none` when it has none).
    pub checksum: &'static str,
    /// The public source of the format.
    pub source: &'static str,
}

use Find::{Context as C, Inside as I, Prefix as P, Scan as S};

const fn f(
    id: &'static str,
    provider: &'static str,
    find: Find,
    charset: &'static str,
    length: &'static str,
    checksum: &'static str,
    source: &'static str,
) -> Family {
    Family {
        id,
        provider,
        find,
        charset,
        length,
        checksum,
        source,
    }
}

/// The families, most specific prefixes need no ordering: the matcher tries the
/// longest matching prefix first.
pub(super) const FAMILIES: &[Family] = &[
    // --- Model providers -------------------------------------------------
    f("openai", "OpenAI", P("sk-proj-", r"[A-Za-z0-9_\-]{20,250}"), "base64url", "~156", "none", "platform.openai.com/docs/api-reference/authentication"),
    f("openai-svcacct", "OpenAI", P("sk-svcacct-", r"[A-Za-z0-9_\-]{40,250}"), "base64url", "~156", "none", "platform.openai.com/docs/api-reference/authentication"),
    f("openai-admin", "OpenAI", P("sk-admin-", r"[A-Za-z0-9_\-]{40,250}"), "base64url", "~156", "none", "platform.openai.com/docs/api-reference/administration"),
    f("openai-legacy", "OpenAI", P("sk-", r"[A-Za-z0-9_\-]{16,512}"), "alnum (T3BlbkFJ marker)", "48", "none", "platform.openai.com/docs/api-reference/authentication"),
    f("anthropic", "Anthropic", P("sk-ant-api03-", r"[A-Za-z0-9_\-]{20,120}"), "base64url, ends AA", "95", "none", "docs.anthropic.com/en/api/getting-started"),
    f("anthropic-admin", "Anthropic", P("sk-ant-admin01-", r"[A-Za-z0-9_\-]{80,120}"), "base64url, ends AA", "95", "none", "docs.anthropic.com/en/api/administration-api"),
    f("anthropic-oauth", "Anthropic", P("sk-ant-o", r"[a-z]{2}\d{2}-[A-Za-z0-9_\-]{40,200}"), "base64url", "~95", "none", "docs.anthropic.com (Claude Code setup-token, sk-ant-oat01-)"),
    f("openrouter", "OpenRouter", P("sk-or-v1-", r"[a-f0-9]{64}"), "hex", "64", "none", "openrouter.ai/docs/api-reference/authentication"),
    f("deepseek", "DeepSeek", P("sk-", r"[a-f0-9]{32}"), "hex", "32", "none", "api-docs.deepseek.com"),
    f("groq", "Groq", P("gsk_", r"[A-Za-z0-9]{48,56}"), "alnum", "52", "none", "console.groq.com/docs/quickstart"),
    f("xai", "xAI", P("xai-", r"[A-Za-z0-9]{70,90}"), "alnum", "80", "none", "docs.x.ai/docs/overview"),
    f("perplexity", "Perplexity", P("pplx-", r"[A-Za-z0-9]{40,64}"), "alnum", "48", "none", "docs.perplexity.ai/guides/getting-started"),
    f("replicate", "Replicate", P("r8_", r"[A-Za-z0-9]{37}\b"), "alnum", "37", "none", "replicate.com/docs/topics/security/api-tokens"),
    f("together", "Together AI", P("tgp_v1_", r"[A-Za-z0-9_\-]{40,50}"), "base64url", "43", "none", "docs.together.ai/reference/authentication-1"),
    f("fireworks", "Fireworks AI", P("fw_", r"[A-Za-z0-9]{20,48}"), "alnum", "24", "none", "docs.fireworks.ai/api-reference/introduction"),
    f("cerebras", "Cerebras", P("csk-", r"[a-z0-9]{40,56}"), "lower alnum", "48", "none", "inference-docs.cerebras.ai/quickstart"),
    f("aws-bedrock", "AWS Bedrock", P("ABSK", r"[A-Za-z0-9+/]{60,400}={0,2}"), "base64 of BedrockAPIKey-…", "~132", "none", "docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html"),
    f("aws-bedrock-short", "AWS Bedrock", P("bedrock-api-key-", r"[A-Za-z0-9+/]{60,4000}={0,2}"), "base64 of a presigned URL", "~1000", "none", "docs.aws.amazon.com/bedrock/latest/userguide/api-keys-generate.html"),
    f("nvidia", "NVIDIA NIM", P("nvapi-", r"[A-Za-z0-9_\-]{60,70}"), "base64url", "64", "none", "docs.api.nvidia.com/nim/reference"),
    f("pinecone", "Pinecone", P("pcsk_", r"[A-Za-z0-9]{5,8}_[A-Za-z0-9]{50,70}"), "alnum", "~70", "none", "docs.pinecone.io/guides/projects/manage-api-keys"),
    f("elevenlabs", "ElevenLabs", P("sk_", r"[a-f0-9]{48}\b"), "hex", "48", "none", "elevenlabs.io/docs/api-reference/authentication"),
    f("tavily", "Tavily", P("tvly-", r"(?:dev-|prod-)?[A-Za-z0-9]{28,40}"), "alnum", "32", "none", "docs.tavily.com/documentation/quickstart"),
    f("firecrawl", "Firecrawl", P("fc-", r"[a-f0-9]{32}\b"), "hex", "32", "none", "docs.firecrawl.dev/introduction"),
    f("langsmith", "LangSmith", P("lsv2_", r"(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}"), "hex", "32+10", "none", "docs.smith.langchain.com/administration/how_to_guides/organization_management/create_account_api_key"),
    f("huggingface", "Hugging Face", P("hf_", r"[A-Za-z]{34,40}\b"), "letters", "34", "none", "huggingface.co/docs/hub/security-tokens"),
    f("huggingface-org", "Hugging Face", P("api_org_", r"[A-Za-z]{34}\b"), "letters", "34", "none", "huggingface.co/docs/hub/security-tokens"),
    f("mistral", "Mistral AI", C("MISTRAL_API_KEY"), "alnum", "32", "none", "docs.mistral.ai/getting-started/quickstart"),
    f("cohere", "Cohere", C("CO_API_KEY, COHERE_API_KEY"), "alnum", "40", "none", "docs.cohere.com/reference/about"),
    f("azure-openai", "Azure OpenAI", C("AZURE_OPENAI_API_KEY, api-key header"), "hex or alnum", "32 or 84", "none", "learn.microsoft.com/azure/ai-services/openai/reference"),
    f("google-gemini", "Google AI Studio", P("AIza", r"[0-9A-Za-z_\-]{30,64}"), "base64url", "35", "none", "ai.google.dev/gemini-api/docs/api-key"),
    // --- Google ----------------------------------------------------------
    f("google-oauth-access", "Google", P("ya29.", r"[A-Za-z0-9_\-.]{20,2048}"), "base64url and dots", "variable", "none", "developers.google.com/identity/protocols/oauth2"),
    f("google-oauth-refresh", "Google", P("1//0", r"[A-Za-z0-9_\-]{30,512}"), "base64url", "~100", "none", "developers.google.com/identity/protocols/oauth2"),
    f("google-oauth-code", "Google", P("4/0A", r"[A-Za-z0-9_\-]{30,512}"), "base64url", "~70", "none", "developers.google.com/identity/protocols/oauth2/web-server"),
    f("google-client-secret", "Google", P("GOCSPX-", r"[A-Za-z0-9_\-]{28}"), "base64url", "28", "none", "support.google.com/cloud/answer/6158849"),
    f("gcp-service-account", "Google Cloud", C("\"private_key\" / \"private_key_id\" JSON fields"), "PEM", "~1700", "none", "cloud.google.com/iam/docs/keys-create-delete"),
    // --- Code hosting and registries -------------------------------------
    f("github-pat", "GitHub", P("ghp_", r"[A-Za-z0-9]{20,251}"), "base62", "36", "CRC32 of the random part, base62, last 6", "github.blog 2021-04-05 behind-githubs-new-authentication-token-formats"),
    f("github-oauth", "GitHub", P("gho_", r"[A-Za-z0-9]{20,251}"), "base62", "36", "CRC32, last 6", "docs.github.com/authentication/keeping-your-account-and-data-secure/about-authentication-to-github"),
    f("github-user-to-server", "GitHub", P("ghu_", r"[A-Za-z0-9]{20,251}"), "base62", "36", "CRC32, last 6", "docs.github.com (token prefixes)"),
    f("github-server-to-server", "GitHub", P("ghs_", r"[A-Za-z0-9]{20,251}"), "base62", "36", "CRC32, last 6", "docs.github.com (token prefixes)"),
    f("github-refresh", "GitHub", P("ghr_", r"[A-Za-z0-9]{20,251}"), "base62", "36", "CRC32, last 6", "docs.github.com (token prefixes)"),
    f("github-fine-grained", "GitHub", P("github_pat_", r"[A-Za-z0-9_]{22,251}"), "base62 and _", "82", "CRC32, last 6", "docs.github.com/authentication (fine-grained PAT)"),
    f("gitlab-pat", "GitLab", P("glpat-", r"[A-Za-z0-9_\-.]{20,80}"), "base64url (new: .01.+crc)", "20 or 51+", "CRC32 in the routable format", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-deploy", "GitLab", P("gldt-", r"[A-Za-z0-9_\-.]{20,80}"), "base64url", "20", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-runner", "GitLab", P("glrt-", r"[A-Za-z0-9_\-.]{20,80}"), "base64url", "20+", "CRC32 in the routable format", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-runner-reg", "GitLab", P("GR1348941", r"[A-Za-z0-9_\-]{20,40}"), "base64url", "20", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-trigger", "GitLab", P("glptt-", r"[a-f0-9]{40}"), "hex", "40", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-cbt", "GitLab", P("glcbt-", r"[A-Za-z0-9_\-]{1,5}_[A-Za-z0-9_\-]{20,80}"), "base64url", "20", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-oauth-secret", "GitLab", P("gloas-", r"[A-Za-z0-9_\-]{40,80}"), "base64url", "64", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-incoming-mail", "GitLab", P("glimt-", r"[A-Za-z0-9_\-]{20,40}"), "base64url", "25", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-agent", "GitLab", P("glagent-", r"[A-Za-z0-9_\-]{40,80}"), "base64url", "50", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-scim", "GitLab", P("glsoat-", r"[A-Za-z0-9_\-]{20,40}"), "base64url", "20", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-feature-flags", "GitLab", P("glffct-", r"[A-Za-z0-9_\-]{20,40}"), "base64url", "20", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("gitlab-feed", "GitLab", P("glft-", r"[A-Za-z0-9_\-]{20,40}"), "base64url", "20", "none", "docs.gitlab.com/security/tokens/#token-prefixes"),
    f("bitbucket-app-password", "Atlassian Bitbucket", P("ATBB", r"[A-Za-z0-9_=.\-]{28,40}"), "alnum", "32", "none", "support.atlassian.com/bitbucket-cloud/docs/app-passwords"),
    f("npm", "npm", P("npm_", r"[A-Za-z0-9]{36}\b"), "base62", "36", "CRC32, last 6", "docs.npmjs.com/about-access-tokens"),
    f("pypi", "PyPI", P("pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_\-]{50,1000}"), "base64url macaroon", "~180", "none (macaroon HMAC)", "pypi.org/help/#apitoken"),
    f("pypi-test", "TestPyPI", P("pypi-AgENdGVzdC5weXBpLm9yZw", r"[A-Za-z0-9_\-]{50,1000}"), "base64url macaroon", "~180", "none", "test.pypi.org/help/#apitoken"),
    f("rubygems", "RubyGems", P("rubygems_", r"[a-f0-9]{48}"), "hex", "48", "none", "guides.rubygems.org/api-key-scopes"),
    f("nuget", "NuGet", P("oy2", r"[a-z0-9]{43}\b"), "lower base32", "43", "none", "learn.microsoft.com/nuget/nuget-org/scoped-api-keys"),
    f("clojars", "Clojars", P("CLOJARS_", r"[a-z0-9]{60}"), "lower alnum", "60", "none", "github.com/clojars/clojars-web/wiki/Deploy-Tokens"),
    f("docker-hub-pat", "Docker Hub", P("dckr_pat_", r"[A-Za-z0-9_\-]{27,40}"), "base64url", "27", "none", "docs.docker.com/security/for-developers/access-tokens"),
    f("docker-hub-oat", "Docker Hub", P("dckr_oat_", r"[A-Za-z0-9_\-]{27,40}"), "base64url", "32", "none", "docs.docker.com/security/for-admins/access-tokens"),
    f("jfrog-api-key", "JFrog", P("AKCp", r"[A-Za-z0-9]{60,80}"), "alnum", "69", "none", "jfrog.com/help (API key)"),
    f("jfrog-reference", "JFrog", P("cmVmdGtu", r"[A-Za-z0-9]{50,70}"), "base64 of reftkn:…", "64", "none", "jfrog.com/help (reference token)"),
    f("sourcegraph", "Sourcegraph", P("sgp_", r"(?:local_|[a-f0-9]{16}_)?[a-f0-9]{40}"), "hex", "40", "none", "sourcegraph.com/docs/cli/how-tos/creating_an_access_token"),
    f("buildkite", "Buildkite", P("bkua_", r"[a-f0-9]{40}"), "hex", "40", "none", "buildkite.com/docs/apis/managing-api-tokens"),
    f("circleci", "CircleCI", P("CCIPAT_", r"[A-Za-z0-9]{20,30}_[a-f0-9]{40}"), "alnum+hex", "22+40", "none", "circleci.com/docs/managing-api-tokens"),
    f("azure-devops-pat", "Azure DevOps", C("AZURE_DEVOPS_PAT, AZURE_DEVOPS_EXT_PAT, SYSTEM_ACCESSTOKEN"), "lower base32 / 84 with AZDO", "52 or 84", "none", "learn.microsoft.com/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate"),
    // --- Cloud -----------------------------------------------------------
    f("aws-access-key-id", "AWS", I("AKIA", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"), "base32 upper", "16", "none", "docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html"),
    f("aws-temp-key-id", "AWS", I("ASIA", r"\b(?:ASIA)[A-Z2-7]{16}\b"), "base32 upper", "16", "none", "docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html"),
    f("aws-secret-access-key", "AWS", C("aws_secret_access_key, AWS_SECRET_ACCESS_KEY, SecretAccessKey"), "base64", "40", "none", "docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"),
    f("aws-session-token", "AWS STS", P("IQoJb3JpZ2lu", r"[A-Za-z0-9+/]{100,4000}={0,2}"), "base64", "~400-1000", "none", "docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html"),
    f("aws-session-token-old", "AWS STS", P("FwoGZXIvYXdz", r"[A-Za-z0-9+/]{100,4000}={0,2}"), "base64", "~300-900", "none", "docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html"),
    f("azure-ad-client-secret", "Microsoft Entra ID", I("Q~", r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}"), "base64url and ~.", "40", "none", "learn.microsoft.com/entra/identity-platform/howto-create-service-principal-portal"),
    f("azure-storage-key", "Azure Storage", C("AccountKey= in connection strings, AZURE_STORAGE_KEY"), "base64", "88", "none", "learn.microsoft.com/azure/storage/common/storage-configure-connection-string"),
    f("azure-sas", "Azure Storage", C("sig= query parameter, SharedAccessSignature="), "base64 url-encoded", "~44", "HMAC-SHA256 (server side)", "learn.microsoft.com/azure/storage/common/storage-sas-overview"),
    f("gcp-api-key", "Google Cloud", P("AIzaSy", r"[0-9A-Za-z_\-]{33,64}"), "base64url", "39", "none", "cloud.google.com/docs/authentication/api-keys"),
    f("alibaba-access-key", "Alibaba Cloud", P("LTAI", r"[A-Za-z0-9]{12,24}\b"), "alnum", "20", "none", "alibabacloud.com/help/ram/user-guide/create-an-accesskey-pair"),
    f("tencent-secret-id", "Tencent Cloud", P("AKID", r"[A-Za-z0-9]{32}\b"), "alnum", "32", "none", "cloud.tencent.com/document/product/598/40488"),
    f("digitalocean-pat", "DigitalOcean", P("dop_v1_", r"[a-f0-9]{64}"), "hex", "64", "none", "docs.digitalocean.com/reference/api/create-personal-access-token"),
    f("digitalocean-oauth", "DigitalOcean", P("doo_v1_", r"[a-f0-9]{64}"), "hex", "64", "none", "docs.digitalocean.com/reference/api/oauth-api"),
    f("digitalocean-refresh", "DigitalOcean", P("dor_v1_", r"[a-f0-9]{64}"), "hex", "64", "none", "docs.digitalocean.com/reference/api/oauth-api"),
    f("databricks", "Databricks", P("dapi", r"[a-f0-9]{32}(?:-\d)?\b"), "hex", "32", "none", "docs.databricks.com/dev-tools/auth/pat.html"),
    f("heroku", "Heroku", P("HRKU-", r"[A-Za-z0-9_\-]{40,80}"), "base64url", "60 (HRKU-AA…)", "none", "devcenter.heroku.com/articles/authentication"),
    f("heroku-legacy", "Heroku", C("HEROKU_API_KEY"), "UUID", "36", "none", "devcenter.heroku.com/articles/authentication"),
    f("cloudflare-api-token", "Cloudflare", C("CLOUDFLARE_API_TOKEN, CF_API_TOKEN, Authorization header"), "base64url", "40", "none", "developers.cloudflare.com/fundamentals/api/get-started/create-token"),
    f("cloudflare-global-key", "Cloudflare", C("CLOUDFLARE_API_KEY, X-Auth-Key header"), "hex", "37", "none", "developers.cloudflare.com/fundamentals/api/get-started/keys"),
    f("cloudflare-origin-ca", "Cloudflare", P("v1.0-", r"[a-f0-9]{24}-[a-f0-9]{146}"), "hex", "24+146", "none", "developers.cloudflare.com/ssl/origin-configuration/origin-ca"),
    f("fly", "Fly.io", I("fm2_", r"\bfm[12][_a-z]?_[A-Za-z0-9+/]{40,4000}={0,2}"), "base64", "~700", "none", "fly.io/docs/security/tokens"),
    f("render", "Render", P("rnd_", r"[A-Za-z0-9]{28,40}"), "alnum", "32", "none", "render.com/docs/api#1-create-an-api-key"),
    f("netlify", "Netlify", P("nfp_", r"[A-Za-z0-9]{36,40}"), "alnum", "36", "none", "docs.netlify.com/api/get-started/#authentication"),
    f("vercel", "Vercel", C("VERCEL_TOKEN"), "alnum", "24", "none", "vercel.com/docs/rest-api#creating-an-access-token"),
    f("tailscale", "Tailscale", P("tskey-", r"(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{8,20}-[A-Za-z0-9]{20,40}"), "alnum", "~48", "none", "tailscale.com/kb/1085/auth-keys"),
    f("terraform-cloud", "HashiCorp Terraform Cloud", I(".atlasv1.", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}"), "alnum", "14+67", "none", "developer.hashicorp.com/terraform/cloud-docs/users-teams-organizations/api-tokens"),
    f("vault-service", "HashiCorp Vault", P("hvs.", r"[A-Za-z0-9_\-]{24,512}"), "base64url", "90+", "none", "developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes"),
    f("vault-batch", "HashiCorp Vault", P("hvb.", r"[A-Za-z0-9_\-]{24,1024}"), "base64url", "138+", "none", "developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes"),
    f("vault-recovery", "HashiCorp Vault", P("hvr.", r"[A-Za-z0-9_\-]{24,512}"), "base64url", "24+", "none", "developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes"),
    f("doppler-personal", "Doppler", P("dp.pt.", r"[A-Za-z0-9]{40,44}"), "alnum", "43", "none", "docs.doppler.com/reference/auth-token-formats"),
    f("doppler-service", "Doppler", P("dp.st.", r"(?:[a-z0-9_\-]{2,35}\.)?[A-Za-z0-9]{40,44}"), "alnum", "43", "none", "docs.doppler.com/reference/auth-token-formats"),
    f("doppler-service-account", "Doppler", P("dp.sa.", r"[A-Za-z0-9]{40,44}"), "alnum", "43", "none", "docs.doppler.com/reference/auth-token-formats"),
    f("doppler-cli", "Doppler", P("dp.ct.", r"[A-Za-z0-9]{40,44}"), "alnum", "43", "none", "docs.doppler.com/reference/auth-token-formats"),
    f("doppler-scim", "Doppler", P("dp.scim.", r"[A-Za-z0-9]{40,44}"), "alnum", "43", "none", "docs.doppler.com/reference/auth-token-formats"),
    f("doppler-audit", "Doppler", P("dp.audit.", r"[A-Za-z0-9]{40,44}"), "alnum", "43", "none", "docs.doppler.com/reference/auth-token-formats"),
    f("onepassword-service-account", "1Password", P("ops_", r"eyJ[A-Za-z0-9_\-+/=]{30,2000}"), "base64 JSON", "~800", "none", "developer.1password.com/docs/service-accounts"),
    f("onepassword-secret-key", "1Password", P("A3-", r"[A-Z0-9]{6}-(?:[A-Z0-9]{6}-)?[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}"), "upper alnum", "34", "none", "support.1password.com/secret-key-security"),
    f("age-secret-key", "age", P("AGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"), "bech32", "58", "bech32 checksum (last 6)", "age-encryption.org/v1"),
    f("pulumi", "Pulumi", P("pul-", r"[a-f0-9]{40}"), "hex", "40", "none", "pulumi.com/docs/pulumi-cloud/access-management/access-tokens"),
    f("planetscale", "PlanetScale", P("pscale_", r"(?:tkn|oauth|pw)_[A-Za-z0-9_\-.=]{32,64}"), "base64url", "43", "none", "planetscale.com/docs/concepts/service-tokens"),
    f("neon", "Neon", P("napi_", r"[a-z0-9]{60,80}"), "lower alnum", "64", "none", "neon.com/docs/manage/api-keys"),
    f("supabase-pat", "Supabase", P("sbp_", r"[a-f0-9]{40}"), "hex", "40", "none", "supabase.com/docs/reference/api/introduction"),
    f("supabase-secret", "Supabase", P("sb_secret_", r"[A-Za-z0-9_\-]{20,64}"), "base64url", "31", "checksum suffix (not verified)", "supabase.com/docs/guides/api/api-keys"),
    f("prefect", "Prefect", P("pnu_", r"[A-Za-z0-9]{36}"), "alnum", "36", "none", "docs.prefect.io/v3/manage/cloud/manage-users/api-keys"),
    f("scalingo", "Scalingo", P("tk-us-", r"[A-Za-z0-9_\-]{48}"), "base64url", "48", "none", "doc.scalingo.com/platform/cli/features#api-tokens"),
    // --- Payments, commerce ----------------------------------------------
    f("stripe-secret-live", "Stripe", P("sk_live_", r"[A-Za-z0-9]{20,247}"), "alnum", "24-99+", "none", "docs.stripe.com/keys"),
    f("stripe-secret-test", "Stripe", P("sk_test_", r"[A-Za-z0-9]{20,247}"), "alnum", "24-99+", "none", "docs.stripe.com/keys"),
    f("stripe-restricted-live", "Stripe", P("rk_live_", r"[A-Za-z0-9]{20,247}"), "alnum", "24-99+", "none", "docs.stripe.com/keys#limit-access"),
    f("stripe-restricted-test", "Stripe", P("rk_test_", r"[A-Za-z0-9]{20,247}"), "alnum", "24-99+", "none", "docs.stripe.com/keys#limit-access"),
    f("stripe-webhook", "Stripe", P("whsec_", r"[A-Za-z0-9+/]{24,80}"), "base64/alnum", "32", "none", "docs.stripe.com/webhooks#verify-events"),
    f("shopify-access", "Shopify", P("shpat_", r"[a-fA-F0-9]{32}"), "hex", "32", "none", "shopify.dev/docs/apps/build/authentication-authorization/access-tokens"),
    f("shopify-custom-app", "Shopify", P("shpca_", r"[a-fA-F0-9]{32}"), "hex", "32", "none", "shopify.dev/docs/apps/build/authentication-authorization"),
    f("shopify-private-app", "Shopify", P("shppa_", r"[a-fA-F0-9]{32}"), "hex", "32", "none", "shopify.dev/docs/apps/build/authentication-authorization"),
    f("shopify-shared-secret", "Shopify", P("shpss_", r"[a-fA-F0-9]{32}"), "hex", "32", "none", "shopify.dev/docs/apps/build/authentication-authorization"),
    f("square-access", "Square", P("sq0atp-", r"[A-Za-z0-9_\-]{22,60}"), "base64url", "22", "none", "developer.squareup.com/docs/build-basics/access-tokens"),
    f("square-oauth-secret", "Square", P("sq0csp-", r"[A-Za-z0-9_\-]{40,60}"), "base64url", "43", "none", "developer.squareup.com/docs/oauth-api/overview"),
    f("square-access-v2", "Square", P("EAAA", r"[A-Za-z0-9_\-+=]{60,}"), "base64url", "64", "none", "developer.squareup.com/docs/build-basics/access-tokens"),
    f("paypal-braintree", "PayPal Braintree", P("access_token$production$", r"[a-z0-9]{16}\$[a-f0-9]{32}"), "alnum+hex", "16+32", "none", "developer.paypal.com/braintree/docs/guides/authorization/gateway-credentials"),
    f("flutterwave", "Flutterwave", P("FLWSECK", r"(?:_TEST)?-[a-h0-9]{32}-X"), "hex", "32", "none", "developer.flutterwave.com/docs/integration-guides/authentication"),
    f("plaid-access", "Plaid", P("access-", r"(?:production|development|sandbox)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"), "UUID", "36", "none", "plaid.com/docs/api/tokens"),
    f("shippo", "Shippo", P("shippo_", r"(?:live|test)_[a-f0-9]{40}"), "hex", "40", "none", "docs.goshippo.com/docs/guides_general/authentication"),
    f("easypost", "EasyPost", P("EZ", r"[AT]K[A-Za-z0-9]{54}"), "alnum", "54", "none", "docs.easypost.com/docs/authentication"),
    f("adobe-client-secret", "Adobe", P("p8e-", r"[A-Za-z0-9]{32}\b"), "alnum", "32", "none", "developer.adobe.com/developer-console/docs/guides/authentication"),
    f("meta-access-token", "Meta", P("EAA", r"[A-Za-z0-9]{100,}"), "alnum", "~200", "none", "developers.facebook.com/docs/facebook-login/guides/access-tokens"),
    // --- Messaging, mail -------------------------------------------------
    f("slack-bot", "Slack", P("xoxb-", r"[A-Za-z0-9\-]{10,255}"), "digits, alnum, dashes", "~55", "none", "api.slack.com/authentication/token-types"),
    f("slack-user", "Slack", P("xoxp-", r"[A-Za-z0-9\-]{10,255}"), "digits, alnum, dashes", "~76", "none", "api.slack.com/authentication/token-types"),
    f("slack-app", "Slack", P("xoxa-", r"[A-Za-z0-9\-]{10,255}"), "alnum, dashes", "~76", "none", "api.slack.com/authentication/token-types"),
    f("slack-refresh", "Slack", P("xoxr-", r"[A-Za-z0-9\-]{10,255}"), "alnum, dashes", "~140", "none", "api.slack.com/authentication/rotation"),
    f("slack-session", "Slack", P("xoxs-", r"[A-Za-z0-9\-]{10,255}"), "alnum, dashes", "~76", "none", "api.slack.com/authentication/token-types"),
    f("slack-legacy", "Slack", P("xoxo-", r"[A-Za-z0-9\-]{10,255}"), "alnum, dashes", "~76", "none", "api.slack.com/authentication/token-types"),
    f("slack-config", "Slack", P("xoxe", r"(?:\.xox[bp])?-\d-[A-Za-z0-9\-]{20,255}"), "alnum, dashes", "~160", "none", "api.slack.com/authentication/config-tokens"),
    f("slack-app-level", "Slack", P("xapp-", r"\d-[A-Z0-9]{8,12}-\d{10,14}-[a-f0-9]{40,80}"), "hex", "64", "none", "api.slack.com/authentication/token-types#app-level"),
    f("slack-webhook", "Slack", P("hooks.slack.com/", r"(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,200}"), "alnum", "T…/B…/24", "none", "api.slack.com/messaging/webhooks"),
    f("discord-webhook", "Discord", I("/api/webhooks/", r"(?:discord|discordapp)\.com/api/webhooks/\d{15,22}/[A-Za-z0-9_\-]{60,80}"), "base64url", "68", "none", "discord.com/developers/docs/resources/webhook"),
    f("discord-bot", "Discord", S(r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}\b"), "base64url, 3 parts", "24.6.27+", "HMAC part (server side)", "discord.com/developers/docs/reference#authentication"),
    f("telegram-bot", "Telegram", I(":AA", r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}"), "base64url", "35", "none", "core.telegram.org/bots/api#authorizing-your-bot"),
    f("twilio-api-key", "Twilio", P("SK", r"[0-9a-fA-F]{32}\b"), "hex", "32", "none", "twilio.com/docs/iam/api-keys"),
    f("twilio-account-sid", "Twilio", P("AC", r"[0-9a-fA-F]{32}\b"), "hex", "32", "none", "twilio.com/docs/iam/api/account"),
    f("twilio-auth-token", "Twilio", C("TWILIO_AUTH_TOKEN"), "hex", "32", "none", "twilio.com/docs/iam/api/authtoken"),
    f("sendgrid", "SendGrid", P("SG.", r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"), "base64url", "22.43", "none", "docs.sendgrid.com/ui/account-and-settings/api-keys"),
    f("mailgun", "Mailgun", P("key-", r"[a-f0-9]{32}\b"), "hex", "32", "none", "documentation.mailgun.com/docs/mailgun/api-reference/authentication"),
    f("mailgun-private", "Mailgun", C("MAILGUN_API_KEY"), "hex", "32-8-8", "none", "help.mailgun.com (API keys)"),
    f("brevo", "Brevo (Sendinblue)", P("xkeysib-", r"[a-f0-9]{64}-[A-Za-z0-9]{16}"), "hex", "64+16", "none", "developers.brevo.com/docs/getting-started"),
    f("mailersend", "MailerSend", P("mlsn.", r"[a-f0-9]{64}"), "hex", "64", "none", "developers.mailersend.com/general.html#authentication"),
    f("resend", "Resend", P("re_", r"[A-Za-z0-9]{8}_[A-Za-z0-9]{24}\b"), "alnum", "8_24", "none", "resend.com/docs/dashboard/api-keys/introduction"),
    f("postmark", "Postmark", C("POSTMARK_API_TOKEN, X-Postmark-Server-Token header"), "UUID", "36", "none", "postmarkapp.com/developer/api/overview#authentication"),
    f("twitter-bearer", "X (Twitter)", P("AAAAAAAAAAAAAAAAAAAAA", r"[A-Za-z0-9%]{30,200}"), "alnum and %", "~110", "none", "developer.x.com/en/docs/authentication/oauth-2-0/bearer-tokens"),
    // --- Developer SaaS ----------------------------------------------------
    f("atlassian-api", "Atlassian", P("ATATT3", r"[A-Za-z0-9_=\-]{150,250}"), "base64url, =CRC", "186", "CRC32 suffix (=XXXXXXXX)", "support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account"),
    f("atlassian-admin", "Atlassian", P("ATCTT3", r"[A-Za-z0-9_=\-]{150,250}"), "base64url", "186", "CRC32 suffix", "support.atlassian.com/organization-administration/docs/manage-an-organization-with-the-admin-apis"),
    f("sentry-org", "Sentry", P("sntrys_", r"eyJ[A-Za-z0-9_\-+/=]{40,600}_[A-Za-z0-9+/]{43}"), "base64 JSON + secret", "~170", "none", "docs.sentry.io/account/auth-tokens"),
    f("sentry-user", "Sentry", P("sntryu_", r"[a-f0-9]{64}"), "hex", "64", "none", "docs.sentry.io/account/auth-tokens"),
    f("grafana-cloud", "Grafana", P("glc_", r"[A-Za-z0-9+/]{32,400}={0,3}"), "base64", "~100", "none", "grafana.com/docs/grafana-cloud/account-management/authentication-and-permissions/access-policies"),
    f("grafana-service-account", "Grafana", P("glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"), "alnum + hex", "32_8", "CRC32 (the _8 hex)", "grafana.com/docs/grafana/latest/administration/service-accounts"),
    f("linear", "Linear", P("lin_api_", r"[A-Za-z0-9]{40}"), "alnum", "40", "none", "linear.app/developers/graphql#personal-api-keys"),
    f("linear-oauth", "Linear", P("lin_oauth_", r"[a-f0-9]{64}"), "hex", "64", "none", "linear.app/developers/oauth-2-0-authentication"),
    f("notion-legacy", "Notion", P("secret_", r"[A-Za-z0-9]{43}\b"), "alnum", "43", "none", "developers.notion.com/docs/authorization"),
    f("notion", "Notion", P("ntn_", r"[0-9]{11}[A-Za-z0-9]{32,36}"), "digits + alnum", "46", "none", "developers.notion.com/docs/authorization"),
    f("postman", "Postman", P("PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}"), "hex", "24-34", "none", "learning.postman.com/docs/developer/postman-api/authentication"),
    f("figma", "Figma", P("figd_", r"[A-Za-z0-9_\-]{40}"), "base64url", "40", "none", "developers.figma.com/docs/rest-api/authentication"),
    f("typeform", "Typeform", P("tfp_", r"[A-Za-z0-9_\-.=]{40,64}"), "base64url", "59", "none", "typeform.com/developers/get-started/personal-access-token"),
    f("readme", "ReadMe", P("rdme_", r"[a-z0-9]{70}"), "lower alnum", "70", "none", "docs.readme.com/main/reference/intro-to-the-readme-api#authentication"),
    f("dynatrace", "Dynatrace", P("dt0c01.", r"[A-Z0-9]{24}\.[A-Z0-9]{64}"), "upper alnum", "24.64", "none", "docs.dynatrace.com/docs/manage/access-control/access-tokens"),
    f("newrelic-user", "New Relic", P("NRAK-", r"[A-Z0-9]{27}"), "upper alnum", "27", "none", "docs.newrelic.com/docs/apis/intro-apis/new-relic-api-keys"),
    f("newrelic-insert", "New Relic", P("NRII-", r"[A-Za-z0-9_\-]{32}"), "base64url", "32", "none", "docs.newrelic.com/docs/apis/intro-apis/new-relic-api-keys"),
    f("newrelic-browser", "New Relic", P("NRJS-", r"[a-f0-9]{19}"), "hex", "19", "none", "docs.newrelic.com/docs/apis/intro-apis/new-relic-api-keys"),
    f("contentful", "Contentful", P("CFPAT-", r"[A-Za-z0-9_\-]{43}"), "base64url", "43", "none", "contentful.com/developers/docs/references/authentication"),
    f("frameio", "Frame.io", P("fio-u-", r"[A-Za-z0-9_\-=]{64}"), "base64url", "64", "none", "developer.frame.io/docs/getting-started/authentication"),
    f("harness", "Harness", P("pat.", r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"), "alnum", "22.24.20", "none", "developer.harness.io/docs/platform/automation/api/add-and-manage-api-keys"),
    f("infracost", "Infracost", P("ico-", r"[A-Za-z0-9]{32}"), "alnum", "32", "none", "infracost.io/docs/features/environment_variables"),
    f("octopus", "Octopus Deploy", P("API-", r"[A-Z0-9]{26,32}\b"), "upper alnum", "26", "none", "octopus.com/docs/octopus-rest-api/how-to-create-an-api-key"),
    f("airtable", "Airtable", P("pat", r"[A-Za-z0-9]{14}\.[a-f0-9]{64}"), "alnum.hex", "14.64", "none", "airtable.com/developers/web/guides/personal-access-tokens"),
    f("mapbox-secret", "Mapbox", P("sk.eyJ", r"[A-Za-z0-9_\-]{20,200}\.[A-Za-z0-9_\-]{20,40}"), "base64url", "~90", "none", "docs.mapbox.com/accounts/guides/tokens"),
    f("dropbox", "Dropbox", P("sl.", r"(?:u\.)?[A-Za-z0-9_\-]{130,1400}"), "base64url", "~140+", "none", "developers.dropbox.com/oauth-guide"),
    f("deepl-free", "DeepL", I(":fx", r"\b[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}:fx\b"), "UUID + :fx", "39", "none", "developers.deepl.com/docs/getting-started/auth"),
    f("modal", "Modal", C("MODAL_TOKEN_ID, MODAL_TOKEN_SECRET"), "alnum", "22", "none", "modal.com/docs/reference/modal.config"),
    f("datadog", "Datadog", C("DD_API_KEY, DD_APP_KEY, DD-API-KEY header"), "hex", "32 / 40", "none", "docs.datadoghq.com/account_management/api-app-keys"),
    f("jwt", "RFC 7519 (any issuer)", P("eyJ", r"[A-Za-z0-9_\-]{8,4096}\.eyJ[A-Za-z0-9_\-]{8,8192}\.[A-Za-z0-9_\-]{8,4096}"), "base64url x3", "variable", "signature (issuer key)", "datatracker.ietf.org/doc/html/rfc7519"),
    f("private-key-pem", "RFC 7468 / OpenSSH / OpenPGP", C("-----BEGIN … PRIVATE KEY----- blocks"), "base64", "variable", "none", "datatracker.ietf.org/doc/html/rfc7468"),
    f("url-password", "RFC 3986 (any scheme)", C("scheme://user:PASSWORD@host"), "any", "variable", "none", "datatracker.ietf.org/doc/html/rfc3986#section-3.2.1"),
];
