//! Layer 3: signals shared by every profile.
//!
//! A CLI's own rules (layer 2) know its exact wordings; this layer knows what
//! does not depend on one wording: HTTP statuses and API error types in text
//! and in JSON bodies, OS and runtime error shapes (errno names with their
//! syscall, shell and loader messages), sandbox vocabulary, configuration
//! parser errors, and the final line of a Python or Node traceback. It reads
//! normalised lines ([`super::normalize`]), so prefixes, colours and escaping
//! do not matter, and it reads a whole block around the decisive line, so a
//! message split over lines or spread over a pretty-printed JSON body is read
//! as one.
//!
//! **How a verdict is chosen.** Candidates are read newest first: the error
//! messages of structured JSON events, then stderr, then the last
//! [`STDOUT_LINES`] lines of stdout (stdout carries the model's answer; its
//! end is where a CLI prints its own failure). The first line that carries a
//! signal is decisive; the signals of its block (the contiguous non-blank
//! lines around it, at most [`BLOCK_BEFORE`] before and [`BLOCK_AFTER`]
//! after) are pooled, and the signal earliest in [`SIGNALS`] wins: a quota
//! named beside a 429 makes it `quota_exhausted`, a "per minute" limit keeps
//! it `rate_limited`, a DNS failure beside an auth word is the network.
//! Stack frames are never evidence. Pure.

use std::sync::OnceLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

use super::normalize;
use super::structured::{window, StreamText, TOLERANT_WINDOW};
use crate::class::Class;

/// Stdout lines read, from its end.
pub const STDOUT_LINES: usize = 60;
/// Lines of the decisive block read before the decisive line.
pub const BLOCK_BEFORE: usize = 8;
/// Lines of the decisive block read after the decisive line.
pub const BLOCK_AFTER: usize = 3;

/// One signal: a shape of text and the class it means.
#[derive(Debug)]
pub struct Signal {
    /// The rule id a verdict names (`generic.http_401`).
    pub id: &'static str,
    /// The class it means.
    pub class: Class,
    /// The pattern, matched against a normalised line and its JSON facts.
    pub pattern: &'static str,
    /// Exit codes it is limited to (empty: any failure).
    pub exit_codes: &'static [i32],
}

const fn sig(id: &'static str, class: Class, pattern: &'static str) -> Signal {
    Signal {
        id,
        class,
        pattern,
        exit_codes: &[],
    }
}

/// The start of an HTTP status as CLIs and SDKs print it: `status 401`,
/// `HTTP/1.1 401`, `API Error: 401`, `Error code: 401`, `code=401`, `(401)`,
/// `[401]`, `got 401`.
macro_rules! status {
    ($code:literal) => {
        concat!(
            r#"(?i)(?:\b(?:status(?:[ _]?code)?|statuscode|code|http(?:/[\d.]+)?|api error|error code|error|got|returned|received|response)\b[\s"':=,]{0,3}|[(\[])"#,
            $code,
            r"\b|^",
            $code,
            r"\s"
        )
    };
}

/// Every signal, in precedence order: within the decisive block the first
/// one that matched wins.
pub const SIGNALS: &[Signal] = &[
    // --- a sandbox that could not be set up names itself ---
    sig(
        "generic.sandbox_setup",
        Class::SandboxOrPolicyBlock,
        r"(?i)FatalSandboxError|sandbox image|\bbwrap: |sandbox-exec: |sandbox_apply|landlock|Cannot connect to the Docker daemon|cannot be used with root(?:/sudo)? privileges|codex-linux-sandbox|sandbox denied|FatalUntrustedWorkspaceError",
    ),
    // --- the launch chain: a shell, loader or SDK could not start the CLI ---
    sig(
        "generic.interpreter_missing",
        Class::InterpreterMissing,
        r#"(?i)(?:^|/|\b)env: ['‘"]?(?:node|nodejs|python[\d.]*|bun|deno|ruby|perl)['’"]?: No such file or directory|^(?:node|nodejs|python[\d.]*|bun|deno): No such file or directory$"#,
    ),
    sig(
        "generic.bad_interpreter",
        Class::InterpreterMissing,
        r"bad interpreter: No such file or directory|cannot execute: required file not found",
    ),
    sig(
        "generic.interpreter_not_found",
        Class::InterpreterMissing,
        r"(?:^|[\s:/])(?:node|nodejs|python3?|bun|deno): (?:command )?not found\b|spawn (?:node|python3?|bun|deno) ENOENT",
    ),
    sig(
        "generic.interpreter_too_old",
        Class::InterpreterMissing,
        r"(?i)requires? Node(?:\.js)?\s*(?:version\s*)?(?:>=?\s*|v)?\d+|Node(?:\.js)? \d+\+? is required|please upgrade (?:your )?Node|EBADENGINE|Unsupported engine|(?:ReadableStream|fetch|structuredClone|AbortController|TextDecoderStream|WebSocket|File|Blob) is not defined|Node(?:\.js)? (?:version )?v?\d+(?:\.\d+)* (?:or|and) (?:higher|newer|later) is required|does not provide an export named|SyntaxError: Unexpected token '(?:\{|\?|\.|\?\?=|\|\|=|&&=)'|requires (?:a different )?Python|Python 3\.\d+ or (?:later|newer|higher) is required|No Python at '|Node(?:\.js)? (?:version )?v?[\d.]+ is not supported|unsupported Node|\.(?:replaceAll|at|findLast|toSorted|hasOwn) is not a function",
    ),
    sig(
        "generic.sandbox_cwd",
        Class::SandboxOrPolicyBlock,
        r"(?i)(?:getcwd|retrieving current directory|read current working directory)[^\n]{0,80}operation not permitted|operation not permitted: \S*shell-snapshots",
    ),
    sig(
        "generic.cwd_shell_enoent",
        Class::CwdMissing,
        r"\bspawn(?:Sync)? (?:/usr)?/bin/(?:ba|z|da)?sh ENOENT|\bspawn(?:Sync)? (?:ba|z)?sh ENOENT|\bENOENT\b[^\n]{0,60}\bposix_spawn '?(?:/usr)?/bin/(?:ba|z|da)?sh\b|The directory name is invalid|Unable to read current working directory",
    ),
    sig(
        "generic.spawn_enoent",
        Class::CliMissing,
        r"\bspawn(?:Sync)?\s+\S+\s+ENOENT\b|\bENOENT\b[^\n]{0,40}\bspawn\b",
    ),
    sig(
        "generic.command_not_found",
        Class::CliMissing,
        r#"(?i): (?:command )?not found$|: command not found\b|\bcommand not found: \S+|is not recognized as an internal or external command|executable file not found in \$PATH|^env: '[^']+': No such file or directory$|FileNotFoundError: \[Errno 2\] No such file or directory: '[\w.-]+'$|\bwhich: no \S+ in\b|not found in (?:the )?PATH|is not recognized as the name of a cmdlet|Cannot run program "[^"]+"[^\n]*error=2|FileNotFoundError: \[WinError 2\]|\b[Ee]xecutable not found\b|CommandNotFoundException|\bnative binary not found\b|(?i:could not find [\w ]{0,30} command)|\bprogram not found\b|(?i:(?:exit(?:ed)?(?: with)?|exit code|code)\s*(?:code\s*)?127\b)|The system cannot find the file specified|(?i:could not find (?:the )?[\w-]+ (?:CLI|executable|binary))|(?i:\bCLI (?:is )?not (?:found|installed))|(?i:\b(?:claude|codex|gemini|qwen|aider|opencode)(?: code)?(?: CLI)?(?: binary| executable| command)? (?:is )?not (?:found|installed))|could not determine executable to run|npm (?:ERR!|error) 404|^(?:ba|z|da)?sh: (?:line \d+: )?/\S+: No such file or directory$"#,
    ),
    sig(
        "generic.module_missing",
        Class::CliMissing,
        r"Error: Cannot find module '|ERR_MODULE_NOT_FOUND",
    ),
    Signal {
        id: "generic.not_executable",
        class: Class::CliNotExecutable,
        pattern: r"(?i): Permission denied$",
        exit_codes: &[126],
    },
    sig(
        "generic.not_executable",
        Class::CliNotExecutable,
        r"(?i)cannot execute binary file|Exec format error|\bENOEXEC\b|\bspawn\s+\S+\s+EACCES\b|\bEACCES\b[^\n]{0,30}\bspawn\b|cannot execute: Permission denied|\bspawn (?:\S+ )?(?:EPERM|EINVAL|EFTYPE)\b|fork/exec \S+: permission denied|is not (?:an )?executable|Bad CPU type in executable|GLIBC_[\d.]+. not found|error while loading shared libraries|wrong ELF class|^(?:ba|z|da|k|fi)?sh: permission denied: \S+$",
    ),
    sig(
        "generic.cwd_missing",
        Class::CwdMissing,
        r"(?i)\b(?:chdir|uv_cwd|working[ _-]directory|cwd|current directory)\b[^\n]{0,160}(?:ENOENT|no such file|does not exist|doesn't exist|not found|ENOTDIR|not a directory)|(?:ENOENT|no such file or directory)[^\n]{0,40}\b(?:chdir|uv_cwd)\b|\bgetcwd\b|\buv_cwd\b",
    ),
    // --- a crash relayed as text: the process died by a signal ---
    sig(
        "generic.crashed",
        Class::KilledBySignal,
        r"(?i)Segmentation fault|\bSIGSEGV\b|\bSIGKILL\b|\bSIGABRT\b|core dumped|Bun has crashed|JavaScript heap out of memory|Allocation failed - |^Killed$|Illegal instruction|\bBus error\b|fatal runtime error: stack overflow|out of memory|OOMKilled|Abort trap|signal: killed|terminated by signal|\bSIGTERM\b|^Aborted\b|killed by signal|(?:exit(?:ed with)?|code)\s*(?:code\s*)?(?:137|139|134)\b",
    ),
    // --- the request: too big for the model ---
    sig(
        "generic.context_length",
        Class::PayloadInvalid,
        r"(?i)context[_ ]length[_ ]exceeded|maximum context length|context (?:window|limit) (?:exceeded|is full|overflow)|exceeds? (?:the )?(?:model'?s? )?(?:context|maximum (?:context|input|prompt|token))|prompt is too long|prompt too long|input is too long|input too long|too many (?:input )?tokens|token limit (?:exceeded|reached)|request (?:entity )?too large|payload too large|string too long|ContextWindowExceeded|too large for (?:the )?model|reduce the length of|413 Request Entity|\b413\b|(?:longer|greater|larger|more) than the (?:model'?s? )?(?:context|maximum)|(?:conversation|context|prompt|input|message) (?:is )?too long|exceeds the maximum number of tokens|input token count|Range of input length|hit a token limit|body too large|\bE2BIG\b|Argument list too long|ran out of room in the model.s context window|Input must be provided either through stdin or as a prompt|FatalInputError",
    ),
    // --- quota and throttling: a daily quota is a quota, a per-minute one a throttle ---
    sig(
        "generic.quota_per_day",
        Class::QuotaExhausted,
        r"(?i)(?:quota|limit|requests?)[^\n]{0,120}\bper[-_ ]?day\b|\bdaily (?:[\w.-]+ )?(?:quota|limit|request limit)|reached your daily|\blimit_rpd\b|\bRPD\b|RequestsPerDay|PerDay(?:Per|\b)",
    ),
    sig(
        "generic.rate_per_minute",
        Class::RateLimited,
        r"(?i)per[-_ ]?(?:minute|second)|requests per min|tokens per min|\b(?:RPM|TPM)\b",
    ),
    sig(
        "generic.quota_zero",
        Class::QuotaExhausted,
        r"(?i)\blimit: 0\b",
    ),
    sig(
        "generic.retry_in_seconds",
        Class::RateLimited,
        r"(?i)\bretry (?:in|after) \d+(?:\.\d+)?\s*(?:s|secs?|seconds)\b",
    ),
    sig(
        "generic.quota_exceeded",
        Class::QuotaExhausted,
        r"(?i)insufficient[_ ]quota|\bextra usage\b|exceeded your (?:current )?quota|\bquota (?:exceeded|exhausted|reached|has been (?:exceeded|reached))|usage[_ ]limit|hit your (?:usage )?limit|credit balance|out of (?:credits|quota)|insufficient (?:credits|balance|funds)|\bbilling\b|payment required|\bspend(?:ing)?[ _](?:cap|limit)|(?:monthly|weekly) (?:limit|quota)|plan(?:'s)? limit|usage_limit_reached|billing_not_active|no credits|exceeded (?:your|the) (?:plan|free)|good standing|\bArrearage\b|overdue[-_ ]payment|\bfree[ _-]tier\b[^\n]{0,60}(?:limit|quota|exceeded)|balance is insufficient|insufficient account balance|\d+-hour limit|(?:session|weekly|monthly) limit (?:reached|hit)|subscription (?:has )?expired|no active subscription|exceeded (?:the |your )?(?:daily|monthly|weekly|token|request) (?:limit|quota)",
    ),
    sig("generic.http_402", Class::QuotaExhausted, status!("402")),
    // --- an MCP server that failed is its configuration's problem, even when
    // the failure it relays is a network one ---
    sig(
        "generic.mcp_server",
        Class::ConfigInvalid,
        r"(?i)\bMCP ERROR\b|Error during discovery for (?:MCP )?server|MCP server[^\n]{0,60}(?:failed|error|could not|couldn't)|failed to (?:start|connect to) (?:the )?MCP",
    ),
    // --- the provider's side failing, even where a connection word appears ---
    sig(
        "generic.upstream_failure",
        Class::TransientIo,
        r"(?i)MODEL_CAPACITY_EXHAUSTED|no capacity available|overloaded_error|upstream connect error|disconnect/reset before headers|due to system capacity|ModelServing(?:Unknown)?Error|stream ended (?:without|with an invalid)|error decoding response body|network error: error decoding|invalid chunk|missing finish reason",
    ),
    // --- the network: DNS, refused, TLS, proxy ---
    sig(
        "generic.dns_failure",
        Class::NetworkUnavailable,
        r"(?i)\bENOTFOUND\b|\bEAI_AGAIN\b|getaddrinfo|Name or service not known|Temporary failure in name resolution|Name does not resolve|failed to lookup address|Could not resolve host|dns error|no such host\b|nodename nor servname",
    ),
    sig(
        "generic.connection_refused",
        Class::NetworkUnavailable,
        r"(?i)\bECONNREFUSED\b|Connection refused|\bENETUNREACH\b|\bEHOSTUNREACH\b|Network is unreachable|No route to host|connect ETIMEDOUT|connection timed out|Unable to connect|Could not connect to|fetch failed|\bConnection error\b|ConnectError|error sending request|network error|NetworkError|ERR_NETWORK|offline|network issue|\bETIMEDOUT\b|ConnectMultiple|actively refused|No connection could be made|UND_ERR_CONNECT_TIMEOUT|Connect Timeout Error|dial tcp|i/o timeout|Failed to establish a new connection|Max retries exceeded with url|NewConnectionError|ConnectTimeout|Host is unreachable|ERR_CONNECTION_REFUSED|ERR_NAME_NOT_RESOLVED|Cannot connect to host|ClientConnectorError|TypeError: Failed to fetch|Failed to fetch$|(?-i:Failed to connect to)|socket disconnected before secure TLS|ERR_SOCKET_CONNECTION_TIMEOUT|UND_ERR_CONNECT|request to \S+ failed, reason: \S|\bConnection failed: |(?:unable to|could not|cannot|can't) reach|DNS (?:lookup|resolution) fail",
    ),
    sig(
        "generic.tls",
        Class::NetworkUnavailable,
        r"(?i)certificate (?:verify failed|has expired|is not valid|signed by unknown)|self[- ]signed certificate|UNABLE_TO_(?:GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)|CERT_HAS_EXPIRED|SELF_SIGNED_CERT|unable to get local issuer certificate|unable to verify the first certificate|ERR_TLS_CERT|\bEPROTO\b|SSLError|SSL: CERTIFICATE|SSL routines|wrong version number|tls handshake|TLS connection",
    ),
    sig(
        "generic.proxy",
        Class::NetworkUnavailable,
        r"(?i)ProxyError|proxy (?:error|authentication required)|tunneling socket|\b407\b Proxy",
    ),
    // --- credentials ---
    sig(
        "generic.auth",
        Class::AuthUnavailable,
        r"(?i)\bunauthori[sz]ed\b|authentication[_ ](?:error|failed|required)|AuthenticationError|invalid[_ -]?(?:x-)?api[_ -]?key|incorrect api key|api[_ ]key[^\n]{0,40}(?:not valid|invalid|missing|not set|not found|expired|required|revoked)|(?:no|missing) api[_ ]key|API_KEY_INVALID|invalid_api_key|not logged in|please (?:run )?/?login|log ?in (?:again|required)|login required|re-?authenticate|invalid (?:access |bearer |auth(?:entication)? )?token|token (?:has )?expired|expired token|invalid_grant|invalid_client|PERMISSION_DENIED|PermissionDeniedError|permission_error|credentials? (?:not found|missing|expired|invalid|are invalid)|could not (?:load|find) (?:default )?credentials|no credentials|OAuth[^\n]{0,40}(?:expired|invalid|failed|revoked|error)|OAuth error|refresh[_ ]token|token refresh|REFRESH_FAILED|could not resolve authentication|authentication method|authentication did not complete|not (?:yet )?authorized|invalid (?:authentication )?credentials|missing auth(?:entication|orization)? header|did(?:n't| not) provide an api key|could not be found in the keychain|\bAccessDenied\b|please set (?:the |your )?\w*API_KEY|\b\w+_API_KEY\b[^\n]{0,30}(?:not set|missing|required|is empty)|session (?:has )?expired|not authenticated|unauthenticated|please (?:log ?in|sign in|authenticate)|account (?:has been )?(?:disabled|suspended|deactivated)|Missing environment variable: `\w*(?:KEY|TOKEN)\w*`|Error authenticating|Failed to login|FatalAuthenticationError|\bUser not found\b",
    ),
    sig("generic.http_401", Class::AuthUnavailable, status!("401")),
    sig("generic.http_403", Class::AuthUnavailable, status!("403")),
    // --- configuration: models, parsers, flags ---
    sig(
        "generic.model_not_found",
        Class::ConfigInvalid,
        r"(?i)model[_ ]not[_ ]found|\bmodel\b[^\n]{0,80}\b(?:does not exist|doesn't exist|not found|is not supported|not supported|is not available|not available|unknown|invalid|is not valid|no longer available|deprecated)|(?:unknown|invalid|unsupported|unrecognized) model|ProviderModelNotFound|\bNotFoundError|not a valid model|does not support (?:the )?model|No endpoints found|LLM Provider NOT provided|must provide a model|model parameter|no model (?:specified|selected|configured|provided)|unsupported[_ ]parameter|Unsupported value|does not support (?:tools|tool use|function calling)",
    ),
    sig(
        "generic.usage_error",
        Class::ConfigInvalid,
        r"(?i)unknown option|unknown (?:shorthand )?flag|Raw mode is not supported|input device is not a TTY|stdin is not a (?:terminal|tty)|invalid value '[^']*' for|unexpected argument|unrecognized (?:option|argument|subcommand)|unknown arguments?:|invalid (?:option|flag)|error: unknown command|no such option|Did you mean --|requires a value but none was supplied|Missing required argument",
    ),
    sig(
        "generic.config_parse",
        Class::ConfigInvalid,
        r"(?i)TOML parse error|toml::de|invalid TOML|JSONDecodeError|Unexpected token[^\n]{0,40}JSON|is not valid JSON|Expected property name|Unexpected end of JSON|yaml(?:: line|error)|ScannerError|ParserError|unknown field `|missing field `|invalid type: |unknown variant `|at line \d+ column \d+|Invalid configuration|invalid config|config(?:uration)?(?: file)? (?:is )?invalid|failed to (?:load|parse|read) (?:the )?(?:config|settings)|error (?:loading|parsing|reading) (?:the )?(?:config|settings)|config\.toml[^\n]{0,40}(?:error|invalid)|MCP[^\n]{0,60}(?:invalid|failed to (?:start|load|parse)|config(?:uration)? error)|invalid value for|ValidationError|ConfigInvalid|ProviderInitError|\bconfig(?:uration)? file\b[^\n]{0,200}\b(?:is invalid|invalid|error|doesn't|does not|couldn't|could not|failed|malformed|not valid)|(?:couldn't|could not|can't|cannot|unable to|failed to) parse|not a valid JSON|Unrecognized (?:keys|fields)|Invalid Settings|invalid [\w ]{0,20}settings|does not adhere to|Extra inputs are not permitted|unknown provider|\bagent \S+ not found|ZodError|Expected \w+, received \w+|must be one of|provider (?:not found|not configured)|ProviderNotFound|JSON\.parse|Invalid JSON|Invalid URL|ERR_INVALID_URL|invalid base[_ ]?url|FatalConfigError|\.(?:toml|jsonc?|ya?ml):\d+:\d+",
    ),
    // --- the prompt's content refused by the provider's filter: the same
    // prompt is refused again (a 400 that names no cause is no signal) ---
    sig(
        "generic.content_refused",
        Class::PayloadInvalid,
        r"(?i)\bcontent_filter\b|DataInspectionFailed|inappropriate content|considered high risk|content (?:management )?policy|output tokens? (?:limit|maximum)|maximum allowed number of (?:output )?tokens|max_tokens: \d+ > \d+",
    ),
    // --- throttling without a quota word ---
    sig(
        "generic.rate_limited",
        Class::RateLimited,
        r"(?i)rate[ _-]?limit|too many requests|RESOURCE_EXHAUSTED|throttl|RateLimitError|slow down|overloaded with requests|Resource has been exhausted|exceeded your current requests list|TooManyRequests|too many concurrent|concurrency limit",
    ),
    sig("generic.http_429", Class::RateLimited, status!("429")),
    // --- sandboxes, approvals, denied paths ---
    sig(
        "generic.sandbox",
        Class::SandboxOrPolicyBlock,
        r"(?i)\b(?:bwrap|bubblewrap|seccomp|landlock|sandbox-exec|apparmor)\b|sandbox[^\n]{0,40}(?:denied|blocked|violation|error|failed|not permitted|refused)|(?:blocked|denied|not allowed|rejected|prohibited) by (?:the )?(?:sandbox|policy|approval|administrator|organization|your organization)|approval (?:policy|required|denied)|requires? approval|untrusted (?:folder|workspace|directory)|not (?:inside )?a trusted (?:folder|directory|workspace)|trust (?:this|the) (?:folder|directory|workspace)|\bnot allowed to (?:run|execute|write|access)|auto-?rejecting|permission requested|seatbelt|permission to use \S+ (?:was |has been )?denied|permission was denied|denied permission|tool use (?:was )?(?:denied|rejected)|(?:access|permission) (?:was )?rejected|rejected (?:the )?permission|(?:folder|directory|workspace) is not trusted|blocked by (?:a |the )?(?:\w+ )?hook|violat\w* (?:our |the )?(?:usage|content|acceptable use) polic|unsupported_country|not available in your (?:country|region)|location is not supported",
    ),
    sig(
        "generic.permission_denied_path",
        Class::SandboxOrPolicyBlock,
        r"\b(?:EACCES|EPERM|EROFS)\b|Operation not permitted|Permission denied|Read-only file system",
    ),
    // --- transient failures: the provider's side or the local disk ---
    sig(
        "generic.server_error",
        Class::TransientIo,
        r"(?i)overloaded|over capacity|at capacity|no capacity|high demand|Service Unavailable|Internal Server Error|Bad Gateway|Gateway Time-?out|\bserver_error\b|\bapi_error\b|InternalServerError|ServiceUnavailable|upstream (?:connect )?error|temporarily unavailable|please try again later|MODEL_CAPACITY_EXHAUSTED|\bUNAVAILABLE\b|server error|litellm\.APIError|APIError: \w+Exception|Error while reading the server response",
    ),
    sig("generic.http_5xx", Class::TransientIo, status!("5\\d\\d")),
    sig("generic.http_408", Class::TransientIo, status!("408")),
    sig(
        "generic.connection_reset",
        Class::TransientIo,
        r"(?i)\bECONNRESET\b|Connection reset|socket hang up|\bEPIPE\b|UND_ERR_SOCKET|stream disconnected|premature close|other side closed|\bECONNABORTED\b|APITimeoutError|request timed out|timed out waiting|\bterminated\b|(?:request|streaming|setup|read|response|socket) timeout|peer closed connection|: EOF\b|unexpected EOF|OpenAIException - timed out",
    ),
    sig(
        "generic.timeout",
        Class::Timeout,
        r"(?i)(?:CLI|command|process|exec|agent|task|job|run|turn)\b[^\n]{0,60}(?:timed out|deadline)|operation was canceled|operation was aborted|\btimed out after \d+",
    ),
    sig(
        "generic.io_error",
        Class::TransientIo,
        r"\b(?:EIO|ENOSPC|EMFILE|ENFILE)\b|No space left on device|Input/output error|Too many open files",
    ),
    // --- the weakest: a bare 404 (a bare 400 names no cause: unknown) ---
    sig("generic.http_404", Class::ConfigInvalid, status!("404")),
];

/// A layer-3 verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The class.
    pub class: Class,
    /// The signal's id.
    pub rule: &'static str,
    /// The line that carried the signal (as printed, clipped).
    pub evidence: String,
}

struct Compiled {
    set: RegexSet,
    missing_path: Regex,
    warning: Regex,
    advice: Regex,
    usage_row: Regex,
}

#[allow(
    clippy::expect_used,
    reason = "constant patterns: a unit test compiles every one"
)]
fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| Compiled {
        set: RegexSetBuilder::new(SIGNALS.iter().map(|s| s.pattern))
            .multi_line(false)
            .size_limit(64 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .expect("generic signals compile"),
        missing_path: Regex::new(
            r"(?i)ENOENT|ENOTDIR|no such file|does not exist|doesn't exist|not a directory",
        )
        .expect("missing-path pattern compiles"),
        // A line the CLI itself calls a warning is not its failure (codex
        // warns about bubblewrap on every run).
        warning: Regex::new(r"(?i)^(?:\S*\d\S*\s+)?\[?(?:warn|warning)\]?(?::|\s|$)")
            .expect("warning pattern compiles"),
        // A header after which a CLI lists things to try ("Check your
        // config.toml for invalid settings"): advice, not the failure.
        advice: Regex::new(
            r"(?i)^(?:some )?things to try:?$|^suggestions?:$|^possible (?:fixes|solutions):?$|^troubleshooting(?: tips)?:?$",
        )
        .expect("advice pattern compiles"),
        // A row of a usage text: a word (a subcommand, an option's value)
        // then a column gap then its description. Not a quoted or
        // bracketed line (a pretty-printed body, an indented message).
        usage_row: Regex::new(r"^[A-Za-z][\w.:-]*(?:,? [\w.<>\[\]|-]+)?\s{3,}\S")
            .expect("usage-row pattern compiles"),
    })
}

/// Where a candidate line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Json,
    Stderr,
    Stdout,
}

/// One stream's lines, with stack frames already removed.
struct Lines<'a> {
    source: Source,
    lines: Vec<&'a str>,
}

impl<'a> Lines<'a> {
    fn of(source: Source, text: &'a str, keep_last: usize) -> Lines<'a> {
        let mut lines = Vec::new();
        let mut in_traceback = false;
        // After an advice header: skipping blank lines, then its block.
        let mut advice: Option<bool> = None;
        for line in text.lines() {
            let trimmed = line.trim_start();
            match advice {
                Some(in_block) if trimmed.is_empty() => {
                    if in_block {
                        advice = None;
                    }
                    continue;
                }
                Some(_) => {
                    advice = Some(true);
                    continue;
                }
                None if compiled()
                    .advice
                    .is_match(normalize::strip_ansi(trimmed).as_ref().trim_end()) =>
                {
                    advice = Some(false);
                    continue;
                }
                None => {}
            }
            if trimmed.starts_with("Traceback (most recent call last)") {
                in_traceback = true;
                continue;
            }
            let indented = trimmed.len() < line.len();
            if in_traceback {
                // Frames are not evidence, except the one call that names
                // the working directory (`os.getcwd()` under a removed cwd).
                if (indented || trimmed.is_empty()) && !trimmed.contains("getcwd()") {
                    continue;
                }
                if indented {
                    lines.push(line);
                    continue;
                }
                in_traceback = false;
            }
            // Node and Java stack frames, source excerpts' carets, and the
            // rows of a usage text (`  --auth-type   Authentication type`),
            // which a CLI prints after the error that matters.
            if indented
                && (trimmed.starts_with("at ")
                    || trimmed.starts_with('^')
                    || trimmed.starts_with('-')
                    || compiled().usage_row.is_match(trimmed.trim_end()))
            {
                continue;
            }
            if compiled().warning.is_match(&normalize::strip_ansi(trimmed)) {
                continue;
            }
            lines.push(line);
        }
        if lines.len() > keep_last {
            lines.drain(..lines.len() - keep_last);
        }
        Lines { source, lines }
    }
}

/// The signals one line carries, as indexes into [`SIGNALS`].
fn signals_of(line: &str, cwd: &str, exit_code: Option<i32>) -> Vec<usize> {
    let c = compiled();
    let norm = normalize::line(line);
    if norm.is_empty() {
        return Vec::new();
    }
    let text = match normalize::embedded_json(&norm) {
        Some(facts) => format!("{norm} {facts}"),
        None => norm,
    };
    let mut hits: Vec<usize> = c
        .set
        .matches(&text)
        .into_iter()
        .filter(|&i| {
            let codes = SIGNALS[i].exit_codes;
            codes.is_empty() || exit_code.is_some_and(|e| codes.contains(&e))
        })
        .collect();
    // A missing path that is the working directory itself.
    if cwd.len() > 1 && text.contains(cwd) && c.missing_path.is_match(&text) {
        if let Some(i) = SIGNALS.iter().position(|s| s.id == "generic.cwd_missing") {
            hits.push(i);
        }
    }
    hits
}

/// The layer-3 verdict for a failed run's text, if any signal is there.
pub fn detect(text: &StreamText, cwd: &str, exit_code: Option<i32>) -> Option<Verdict> {
    let streams = [
        Lines {
            source: Source::Json,
            lines: text.json.iter().map(String::as_str).collect(),
        },
        Lines::of(
            Source::Stderr,
            window(&text.stderr, TOLERANT_WINDOW),
            usize::MAX,
        ),
        Lines::of(
            Source::Stdout,
            window(&text.stdout, TOLERANT_WINDOW),
            STDOUT_LINES,
        ),
    ];
    for stream in &streams {
        if let Some(v) = detect_in(stream, cwd, exit_code) {
            return Some(v);
        }
    }
    None
}

fn detect_in(stream: &Lines<'_>, cwd: &str, exit_code: Option<i32>) -> Option<Verdict> {
    let lines = &stream.lines;
    for i in (0..lines.len()).rev() {
        let mut hits = signals_of(lines[i], cwd, exit_code);
        if hits.is_empty() && stream.source != Source::Json && i + 1 < lines.len() {
            // A message wrapped over two lines.
            let joined = format!("{} {}", lines[i].trim_end(), lines[i + 1].trim());
            hits = signals_of(&joined, cwd, exit_code);
        }
        if hits.is_empty() {
            continue;
        }
        // The decisive block: contiguous non-blank lines around line i.
        let mut best: Option<(usize, usize)> = hits.iter().map(|&s| (s, i)).min();
        if stream.source != Source::Json {
            let mut j = i;
            while j > 0 && i - (j - 1) <= BLOCK_BEFORE && !lines[j - 1].trim().is_empty() {
                j -= 1;
                for s in signals_of(lines[j], cwd, exit_code) {
                    if best.is_none_or(|(b, _)| s < b) {
                        best = Some((s, j));
                    }
                }
            }
            let mut k = i + 1;
            while k < lines.len() && k - i <= BLOCK_AFTER && !lines[k].trim().is_empty() {
                for s in signals_of(lines[k], cwd, exit_code) {
                    if best.is_none_or(|(b, _)| s < b) {
                        best = Some((s, k));
                    }
                }
                k += 1;
            }
        }
        let (signal, at) = best?;
        return Some(Verdict {
            class: SIGNALS[signal].class,
            rule: SIGNALS[signal].id,
            evidence: super::rules::clip(lines[at].trim()),
        });
    }
    None
}

#[cfg(test)]
mod tests;
