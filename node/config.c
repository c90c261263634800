/* node/config.c - the configuration registry of config.h and the documents generated from it.
 *
 * Process-level variables (key == NULL) configure this process only. Settings (key != NULL) live in the `settings`
 * table: their environment variable, when they have one, seeds the value on first boot; afterwards the database wins
 * (a sensitive value that no longer decrypts is replaced from its variable at boot). Defaults and categories follow
 * the original AlexClaw's seeder (reference section 2.2) except where noted. */
#include "node/config.h"

#include <string.h>

#define S AC_CFG_SENSITIVE
#define D AC_CFG_DEV

/* clang-format off */
const ac_node_config_entry_t ac_node_config_registry[] = {
    /* env                     key  default                           type  category flags description */
    {"DATABASE_URL",            NULL, "embedded server in the data directory", NULL, NULL, S,
     "PostgreSQL connection URL (postgresql://user:pass@host:port/db) or libpq key=value string. Unset: the node runs a private PostgreSQL server under the data directory (Unix socket only)."},
    {"ALEXCLAW_DATA_DIR",       NULL, "./var",                          NULL, NULL, 0,
     "Directory for the node's state: the embedded database, its env file, skills, backups. Resolved once to an absolute path at start."},
    {"SECRET_KEY_BASE",         NULL, "none (required)",                NULL, NULL, S,
     "At least 32 bytes of secret; the key material for encrypted settings. Make one with: openssl rand -base64 48"},
    {"ADMIN_PASSWORD",          NULL, "none",                           NULL, NULL, S,
     "Password for the admin UI. Unset: the login page refuses every login."},
    {"NODE_NAME",               NULL, "alexclaw@<hostname>",            NULL, NULL, 0,
     "The node's identity, name@host (recorded with its runs); Erlang distribution runs only when it is set. A host with a dot means long names."},
    {"CLUSTER_COOKIE",          NULL, "none",                           NULL, NULL, S,
     "Shared secret of the cluster, required once NODE_NAME is set: at least 16 characters, not a well-known value. Make one with: openssl rand -base64 32"},
    {"DIST_PORT_MIN",           NULL, "0 (any free port)",              NULL, NULL, 0,
     "Lowest port the distribution listener may use."},
    {"DIST_PORT_MAX",           NULL, "DIST_PORT_MIN",                  NULL, NULL, 0,
     "Highest port the distribution listener may use."},
    {"BIND_ADDRESS",            NULL, "127.0.0.1",                      NULL, NULL, 0,
     "Address the node's listeners bind (the admin UI; the distribution listener unless DIST_BIND_ADDRESS is set). Keep it on loopback behind a TLS reverse proxy (see deploy/)."},
    {"PORT",                    NULL, "5001",                           NULL, NULL, 0,
     "Port of the admin UI (HTTP, or HTTPS with TLS_CERT_FILE); 0 picks a free port (logged)."},
    {"TLS_CERT_FILE",           NULL, "none (plain HTTP)",              NULL, NULL, 0,
     "PEM certificate chain: the admin UI serves HTTPS (HTTP/2 with ALPN) itself. Needs TLS_KEY_FILE."},
    {"TLS_KEY_FILE",            NULL, "none",                           NULL, NULL, 0,
     "PEM private key matching TLS_CERT_FILE."},
    {"DIST_BIND_ADDRESS",       NULL, "BIND_ADDRESS",                   NULL, NULL, 0,
     "Address the distribution listener binds; it must be what the host part of NODE_NAME resolves to."},
    {"ERL_EPMD_PORT",           NULL, "4369",                           NULL, NULL, 0,
     "Port of EPMD, the Erlang port mapper (as erl honours it)."},
    {"ERL_EPMD_ADDRESS",        NULL, "127.0.0.1",                      NULL, NULL, 0,
     "Address of EPMD, and the address an EPMD started by the node binds."},
    {"DIST_NET_TICKTIME",       NULL, "60",                             NULL, NULL, 0,
     "Seconds of silence after which a peer connection is dropped (as erl's net_ticktime)."},
    {"CLUSTER_APPROVED_NODES",  NULL, "none",                           NULL, NULL, 0,
     "Comma-separated node names approved at start (a receive_from_workflow gate with an empty allowed_nodes admits approved nodes only)."},
    {"TELEGRAM_API_URL",        NULL, "https://api.telegram.org",       NULL, NULL, 0,
     "Base URL of the Telegram Bot API: https://, or http:// to this host only (the bot token travels in the URL); tests point it at a loopback server."},
    {"GEMINI_API_URL",          NULL, "https://generativelanguage.googleapis.com", NULL, NULL, 0,
     "Base URL of the Gemini API (tests point it at a loopback server)."},
    {"ANTHROPIC_API_URL",       NULL, "https://api.anthropic.com",      NULL, NULL, 0,
     "Base URL of the Anthropic API (tests point it at a loopback server)."},
    {"GITHUB_API_URL",          NULL, "https://api.github.com",         NULL, NULL, 0,
     "Base URL of the GitHub API (GitHub Enterprise: https://<host>/api/v3)."},
    {"LOG_LEVEL",               NULL, "info",                           NULL, NULL, 0,
     "Lowest level written to stderr: debug, info, warn or error."},
    {"ALEXCLAW_PG_USER",        NULL, "alexclaw",                       NULL, NULL, 0,
     "Unprivileged system user of its own that runs the embedded PostgreSQL server when the node runs as root (deploy/install-deps.sh creates it)."},
    {"ALEXCLAW_PG_BINDIR",      NULL, "newest /usr/lib/postgresql/*/bin", NULL, NULL, 0,
     "Directory holding initdb, pg_ctl and postgres for the embedded server."},
    {"BACKUP_DIR",              NULL, "<data directory>/backups",       NULL, NULL, 0,
     "Directory for database backups (db_backup skill)."},
    {"ALEXCLAW_SHELL_USER",     NULL, "nobody",                         NULL, NULL, 0,
     "Unprivileged system user that runs shell-skill commands when the node runs as root."},
    {"SKILLS_DIR",              NULL, "<data directory>/skills",        NULL, NULL, 0,
     "Directory of dynamic skills (Lua files); only files strictly inside it are loaded."},
    {"ALEXCLAW_SANDBOX_USER",   NULL, "nobody",                         NULL, NULL, 0,
     "Unprivileged system user that runs dynamic skills in their sandbox when the node runs as root."},
    {"ALEXCLAW_WORKERS",        NULL, "4",                              NULL, NULL, 0,
     "Workflow executor threads (1-64); each holds one database connection."},
    {"ALEXCLAW_PG_DUMP",        NULL, "newest /usr/lib/postgresql/*/bin/pg_dump", NULL, NULL, D,
     "pg_dump the db_backup skill runs (tests)."},
    {"ALEXCLAW_MIGRATIONS_DIR", NULL, "the migrations built into the binary", NULL, NULL, D,
     "Read migrations from this directory instead (development and tests)."},
    {"ALEXCLAW_WEB_BENCH_STATIC_DIR", NULL, "none",                       NULL, NULL, D,
     "Serve this directory under /bench-static/ with h2o's own file handler: the baseline of tests/bench/bench_web.sh."},
    {"ALEXCLAW_WEB_SESSION_SECONDS", NULL, "28800 (8 hours)",              NULL, NULL, D,
     "Lifetime of admin UI sessions (tests)."},

    /* Settings. The env column seeds the value on first boot only. */
    {NULL, "telegram.enabled",        "true",  "boolean", "telegram", 0, "Poll Telegram for the owner's messages."},
    {"TELEGRAM_BOT_TOKEN", "telegram.bot_token", "", "string", "telegram", S, "Bot API token from @BotFather."},
    {"TELEGRAM_CHAT_ID", "telegram.chat_id", "", "string", "telegram", 0, "The only chat the bot answers; empty: it answers none."},
    {NULL, "telegram.poll_interval",  "1000",  "integer", "telegram", 0, "Milliseconds between polls."},
    {NULL, "telegram.node",           "",      "string",  "telegram", 0, "Node that polls Telegram when several share a database; empty: one elected node."},

    {"GEMINI_API_KEY", "llm.gemini_api_key", "", "string", "llm", S, "Google Gemini API key."},
    {"ANTHROPIC_API_KEY", "llm.anthropic_api_key", "", "string", "llm", S, "Anthropic API key."},
    {"OLLAMA_ENABLED", "llm.ollama_enabled", "false", "boolean", "llm", 0, "Use a local Ollama server."},
    {"OLLAMA_HOST", "llm.ollama_host", "http://localhost:11434", "string", "llm", 0, "Ollama base URL."},
    {"OLLAMA_MODEL", "llm.ollama_model", "llama3.2", "string", "llm", 0, "Ollama model name."},
    {"LMSTUDIO_ENABLED", "llm.lmstudio_enabled", "false", "boolean", "llm", 0, "Use a local OpenAI-compatible server (LM Studio, llama.cpp, vLLM)."},
    /* The original defaults to host.docker.internal; we do not run in Docker. */
    {"LMSTUDIO_HOST", "llm.lmstudio_host", "http://localhost:1234", "string", "llm", 0, "OpenAI-compatible server base URL."},
    {"LMSTUDIO_MODEL", "llm.lmstudio_model", "qwen2.5-14b-instruct", "string", "llm", 0, "Model name on that server."},

    {NULL, "llm.timeout_seconds",     "120",   "integer", "llm", 0, "Time limit of one call to a cloud provider (Anthropic, Gemini), within the step's own limit."},
    {NULL, "llm.local_timeout_seconds", "600", "integer", "llm", 0, "Time limit of one call to a local or OpenAI-compatible provider (Ollama, LM Studio, ...), within the step's own limit."},
    {NULL, "llm.max_response_kb",     "2048",  "integer", "llm", 0, "Largest provider response read (KiB); a larger one fails the call."},
    {NULL, "llm.gemini_retry_ms",     "5000",  "integer", "llm", 0, "Base delay of the retries after a Gemini 429 (x1, x2, x3)."},
    {NULL, "skill.conversational.tier", "light", "string", "skill.conversational", 0, "Tier of the conversational skill (light, medium, heavy, local)."},
    {NULL, "skill.conversational.provider", "auto", "string", "skill.conversational", 0, "Provider name for the conversational skill; auto: by tier."},
    {NULL, "skill.llm_transform.tier", "light", "string", "skill.llm_transform", 0, "Default tier of llm_transform steps without llm_tier."},
    {NULL, "skill.llm_score.tier",    "light", "string", "skill.llm_score", 0, "Default tier of llm_score steps without llm_tier."},
    {NULL, "skill.github_review.tier", "medium", "string", "skill.github_review", 0, "Tier of GitHub security reviews."},
    {NULL, "skill.github_review.provider", "auto", "string", "skill.github_review", 0, "Provider name for GitHub security reviews; auto: by tier."},
    {NULL, "coder.max_retries",       "3",     "integer", "coder", 0, "Generation attempts of the coder skill before it gives up (1-10)."},

    {NULL, "github.token",            "",      "string",  "github", S, "GitHub API token for fetching diffs."},
    {NULL, "github.webhook_secret",   "",      "string",  "github", S, "Secret of the GitHub webhook; empty: every webhook is rejected."},
    {NULL, "github.default_repo",     "",      "string",  "github", 0, "owner/repo used when a command names none."},
    {NULL, "github.watched_branches", "main,master", "string", "github", 0, "Comma-separated branches whose pushes are reviewed."},
    {NULL, "github.webhook_workflow", "",      "string",  "github", 0, "Workflow that receives accepted GitHub webhook events as input {event, delivery, payload}; empty: none."},
    {NULL, "github.security_focus",   "",      "string",  "github", 0, "Extra focus for security reviews."},

    {NULL, "shell.enabled",           "false", "boolean", "shell", 0, "Allow the shell skill and /shell at all."},
    /* Diagnostics only, unlike the original (which admitted curl, cat /proc, bin/alex_claw ...). */
    {NULL, "shell.whitelist", "[\"df\",\"free\",\"ps\",\"uptime\",\"uname\",\"whoami\",\"hostname\",\"date\",\"ls\",\"git\"]",
     "string", "shell", 0, "JSON array of allowed command prefixes (word-boundary match)."},
    {NULL, "shell.blocklist", "[\"&&\",\"||\",\"|\",\";\",\"`\",\"$(\",\">\",\"<\",\"\\n\"]",
     "string", "shell", 0, "JSON array of substrings that reject a command."},
    {NULL, "shell.timeout_seconds",   "30",    "integer", "shell", 0, "Seconds before a command's process group is killed."},
    {NULL, "shell.max_output_chars",  "4000",  "integer", "shell", 0, "Output is cut after this many characters."},

    /* The original defaults to Europe/Rome, its author's zone. */
    {NULL, "display.timezone",        "UTC",   "string",  "display", 0, "Time zone for times shown to the owner."},

    {NULL, "auth.totp.enabled",       "false", "boolean", "auth", 0, "Two-factor authentication is on."},
    {NULL, "auth.totp.secret",        "",      "string",  "auth", S, "TOTP secret (base32), set by the 2FA setup."},
    {NULL, "auth.totp.pending_secret", "",     "string",  "auth", S, "TOTP secret of a 2FA setup not confirmed yet."},
    {NULL, "auth.audit.allows",       "false", "boolean", "auth", 0, "Write allowed SkillAPI calls to the audit log too (denials always are)."},
    {NULL, "auth.max_chain_depth",    "3",     "integer", "auth", 0, "How deep skills may call skills (skill_invoke); deeper calls are denied."},
    {NULL, "auth.trust_proxy_headers", "false", "boolean", "auth", 0, "Take the client address from X-Forwarded-For (only behind your own proxy)."},
    {NULL, "auth.rate_limit.max_attempts", "5", "integer", "auth", 0, "Failed logins from one address before it is blocked."},
    {NULL, "auth.rate_limit.block_duration_seconds", "900", "integer", "auth", 0, "How long a blocked address stays blocked."},
    {NULL, "auth.rate_limit.window_seconds", "300", "integer", "auth", 0, "Failed attempts older than this are forgotten."},
    {NULL, "api.token",               "",      "string",  "auth", S, "Bearer token for scripts calling /api/ and /metrics; made on the Config page; empty: no token access."},
    {NULL, "web.allowed_hosts",       "",      "string",  "auth", 0, "Comma-separated host names the admin UI answers to besides IP addresses and localhost (your reverse proxy's public name)."},
    {NULL, "web.cookie_secure",       "false", "boolean", "auth", 0, "Mark session cookies Secure (set it behind a TLS reverse proxy; automatic when the node serves TLS itself)."},

    {NULL, "identity.name",           "AlexClaw", "string", "identity", 0, "The agent's name."},
    {NULL, "identity.persona",        "",      "string",  "identity", 0, "Optional persona text for conversations."},
    {NULL, "identity.base_prompt",
     "You are {name}, a personal automation agent running as an AlexClaw/C node. Answer briefly and precisely.",
     "string", "prompts", 0, "System prompt for conversations; {name} is replaced by identity.name."},

    {NULL, "workflow.step_timeout_ms", "60000", "integer", "workflow", 0, "Default time limit of one workflow step; a step's config.timeout_ms overrides it."},
    {NULL, "skills.circuit_breaker.max_failures", "3", "integer", "skills", 0, "Consecutive failures that open a skill's circuit breaker."},
    {NULL, "skills.circuit_breaker.reset_seconds", "300", "integer", "skills", 0, "Seconds an open breaker waits before it admits one probe call."},
    {NULL, "skills.sandbox.timeout_ms", "30000", "integer", "skills", 0, "Wall-clock limit of one dynamic skill call (its sandbox is killed then); CPU time is limited likewise."},
    {NULL, "skills.sandbox.memory_mb", "64",   "integer", "skills", 0, "Memory a dynamic skill's Lua state may use (4-4096)."},
    {NULL, "skills.web_read.allow",   "",      "string",  "skills", 0, "Comma-separated addresses or networks (CIDR) on loopback, private or link-local ranges that dynamic skills' http_* calls may reach; empty: public addresses only."},

    {NULL, "backup.max_files",        "7",     "integer", "backup", 0, "Backups kept by the db_backup skill (schedule a workflow with a db_backup step); older ones are deleted."},
};
/* clang-format on */

const size_t ac_node_config_registry_count = sizeof(ac_node_config_registry) / sizeof(ac_node_config_registry[0]);

const ac_node_config_entry_t *ac_node_config_find_env(const char *env)
{
    for (size_t i = 0; i < ac_node_config_registry_count; i++)
        if (ac_node_config_registry[i].env != NULL && strcmp(ac_node_config_registry[i].env, env) == 0)
            return &ac_node_config_registry[i];
    return NULL;
}

const ac_node_config_entry_t *ac_node_config_find_key(const char *key)
{
    for (size_t i = 0; i < ac_node_config_registry_count; i++)
        if (ac_node_config_registry[i].key != NULL && strcmp(ac_node_config_registry[i].key, key) == 0)
            return &ac_node_config_registry[i];
    return NULL;
}

void ac_node_config_print_help(FILE *out)
{
    fprintf(out, "Environment (settings marked * seed the database on first boot; afterwards the database wins):\n");
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->env == NULL)
            continue;
        fprintf(out, "  %-24s%s %s", e->env, e->key != NULL ? "*" : " ", e->description);
        if (e->key != NULL)
            fprintf(out, " [setting %s]", e->key);
        else
            fprintf(out, " [default: %s]", e->def);
        fputc('\n', out);
    }
}

void ac_node_config_print_env_example(FILE *out)
{
    fprintf(out,
            "# AlexClaw/C environment. Generated by `alexclaw config reference env`; do not edit by hand.\n"
            "# Copy to a file of mode 0600, fill in, and load it before `alexclaw serve`.\n"
            "# Variables marked (setting) seed the database on first boot only; change them later in the admin UI\n"
            "# or with `alexclaw config set`.\n");
    for (unsigned pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ac_node_config_registry_count; i++) {
            const ac_node_config_entry_t *e = &ac_node_config_registry[i];
            if (e->env == NULL || ((e->flags & AC_CFG_DEV) != 0) != (pass == 1))
                continue;
            fprintf(out, "\n# %s%s\n", e->description, e->key != NULL ? " (setting)" : "");
            if (e->key != NULL)
                fprintf(out, "#%s=%s\n", e->env, e->def);
            else
                fprintf(out, "# default: %s\n#%s=\n", e->def, e->env);
        }
    }
}

static void md_cell(FILE *out, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        fputs(" ", out);
        return;
    }
    for (; *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

void ac_node_config_print_markdown(FILE *out)
{
    fprintf(out,
            "Environment variables of the process (secret ones are erased from the process environment once read):\n\n"
            "| variable | default | secret | description |\n|---|---|---|---|\n");
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->key != NULL)
            continue;
        fprintf(out, "| `%s` | ", e->env);
        md_cell(out, e->def);
        fprintf(out, " | %s | ", (e->flags & AC_CFG_SENSITIVE) ? "yes" : "");
        md_cell(out, e->description);
        fputs(" |\n", out);
    }
    fprintf(out, "\nSettings (table `settings`; secret ones are stored encrypted; a variable seeds its setting on "
                 "first boot):\n\n"
                 "| setting | variable | type | default | secret | description |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < ac_node_config_registry_count; i++) {
        const ac_node_config_entry_t *e = &ac_node_config_registry[i];
        if (e->key == NULL)
            continue;
        fprintf(out, "| `%s` | %s%s%s | %s | ", e->key, e->env ? "`" : "", e->env ? e->env : "", e->env ? "`" : "",
                e->type);
        if (e->def[0] != '\0') {
            fputs("`` ", out); /* double backticks: a default may hold a backtick */
            md_cell(out, e->def);
            fputs(" ``", out);
        }
        fprintf(out, " | %s | ", (e->flags & AC_CFG_SENSITIVE) ? "yes" : "");
        md_cell(out, e->description);
        fputs(" |\n", out);
    }
}
