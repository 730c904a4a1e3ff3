/* Server configuration: every flag has an environment variable (BATCHCALLD_<FLAG>) and a default,
 * all listed in one table so --help, parsing and defaults never disagree. */
#ifndef BC_CONFIG_H
#define BC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    char listen[256];
    char data_dir[1024];
    int demo;
    uint64_t max_connections;
    uint64_t max_connections_per_ip;
    uint64_t reserved_connections;
    uint64_t max_streams_per_workspace;
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t shutdown_timeout_ms;
    uint64_t map_size_mb;
    uint64_t map_size_max_mb;
    char log_level[16];
    char provider[16];
    char public_url[512];
    char twilio_api_base[512];
    char twilio_account_sid[64];
    char twilio_auth_token[128];
    char http_provider_url[512];
    char http_provider_secret[128];
    double provider_cps;
    uint64_t max_in_flight;
    uint64_t ring_timeout_s;
    double sim_speed;
    int64_t clock_offset_ms; /* testing aid: shifts clock_now_ms (may be negative) */
    uint64_t busy_attempts;
    uint64_t busy_retry_ms;
    uint64_t provider_retries;
    uint64_t provider_backoff_ms;
    uint64_t provider_backoff_max_ms;
    uint64_t smart_hour_ms;
    uint64_t reconcile_ms;
    uint64_t call_overdue_ms;
    uint64_t webhook_backoff_ms;
    uint64_t webhook_backoff_max_ms;
    uint64_t webhook_max_age_ms;
    uint64_t webhook_timeout_ms;
    int webhook_allow_private;
    char admin_token[256]; /* bearer token of the /v1/admin/ routes; "" turns them off */
    uint64_t events_log_kb;
    char instance_name[65]; /* fleet mode when set (docs/fleet.md) */
};

/* Fills defaults, then environment variables, then argv flags (argv[0] is the first flag).
 * Returns 0, 1 when --help was printed, or BC_EINVAL after printing an error to stderr. */
int config_parse(struct config *cfg, int argc, char **argv);

#endif
