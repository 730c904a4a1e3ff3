/* Prompt {variables} (src/model/agent.c): what is a variable, its key, and rendering; reading a
 * stored agent. */
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "model/agent.h"
#include "store/records.h"
#include "util/err.h"

struct names {
    char all[1024]; /* the names found, '|'-separated */
    size_t n;
    size_t last_len;
};

static void collect(void *ctx, const char *name, size_t len)
{
    struct names *v = ctx;
    size_t at = strlen(v->all);
    snprintf(v->all + at, sizeof v->all - at, "%s%.*s", v->n ? "|" : "", (int)len, name);
    v->n++;
    v->last_len = len;
}

static struct names vars_of(const char *prompt)
{
    struct names v = {{0}, 0, 0};
    agent_prompt_variables(prompt, strlen(prompt), collect, &v);
    return v;
}

static void test_names_in_order_with_repeats(void)
{
    struct names v = vars_of("Hello {first_name}, {Last}! {a}{a} {B2} {a}");
    CHECK_STR(v.all, "first_name|Last|a|a|B2|a");
    CHECK_INT(v.n, 6);
    v = vars_of("{x}");
    CHECK_STR(v.all, "x");
    v = vars_of("no variables at all");
    CHECK_INT(v.n, 0);
    v = vars_of("");
    CHECK_INT(v.n, 0);
}

static void test_braces_that_are_not_variables(void)
{
    static const char *const none[] = {
        "{\"key\": 1}", "{ name }", "{na-me}", "{}", "{x y}",  "{é}",
        "}{",           "Hi {name", "{name",   "{",  "{ab.c}",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        CHECK_REPORT(vars_of(none[i]).n == 0, "\"%s\" has no variable", none[i]);
    /* Only the well-formed one counts. */
    CHECK_STR(vars_of("{a}{b").all, "a");
    CHECK_STR(vars_of("{\"json\": {inner}}").all, "inner");
    /* {{x}}: the outer braces are text around the variable x. */
    struct names v = vars_of("{{x}}");
    CHECK_STR(v.all, "x");
    CHECK_INT(v.n, 1);
}

static void test_name_length_limit(void)
{
    char p[260];
    p[0] = '{';
    memset(p + 1, 'a', 127);
    p[128] = '}';
    p[129] = '\0';
    struct names v = vars_of(p);
    CHECK_INT(v.n, 1);
    CHECK_INT(v.last_len, 127);
    p[128] = 'a';
    p[129] = '}';
    p[130] = '\0';
    CHECK_INT(vars_of(p).n, 0); /* 128 characters: text */
    /* A too-long name does not hide a variable after it. */
    strcat(p, " {ok}");
    CHECK_STR(vars_of(p).all, "ok");
}

static void test_key_lower_case(void)
{
    char out[AGENT_VARIABLE_MAX + 1];
    agent_variable_key("FiRsT_Name9", 11, out);
    CHECK_STR(out, "first_name9");
    agent_variable_key("ABCdef", 3, out); /* a slice */
    CHECK_STR(out, "abc");
    char longname[200];
    memset(longname, 'Z', sizeof longname);
    agent_variable_key(longname, sizeof longname, out);
    CHECK_INT(strlen(out), AGENT_VARIABLE_MAX);
    CHECK_INT(out[0], 'z');
}

/* The values of one contact: lower-case keys only; records the keys asked for. */
struct row {
    char asked[256];
};

static const char *value(void *ctx, const char *key)
{
    struct row *r = ctx;
    size_t at = strlen(r->asked);
    snprintf(r->asked + at, sizeof r->asked - at, "%s%s", at ? "|" : "", key);
    if (!strcmp(key, "name"))
        return "Ada";
    if (!strcmp(key, "empty"))
        return "";
    if (!strcmp(key, "code"))
        return "{x}"; /* a value is never rendered again */
    return NULL;
}

static void render(const char *prompt, const char *want, uint32_t want_empty, const char *asked)
{
    struct buf out = {0};
    struct row r = {{0}};
    uint32_t empty = 0;
    CHECK_INT(agent_render(prompt, strlen(prompt), value, &r, &out, &empty), 0);
    CHECK_STR(out.data, want);
    CHECK_INT(out.len, strlen(want) + 1); /* the NUL is appended */
    CHECK_INT(empty, want_empty);
    CHECK_STR(r.asked, asked);
    buf_free(&out);
}

static void test_render(void)
{
    render("{Name} {EMPTY} {missing} {name}!", "Ada   Ada!", 2, "name|empty|missing|name");
    render("plain text", "plain text", 0, "");
    render("", "", 0, "");
    render("{\"a\": {NAME}}", "{\"a\": Ada}", 0, "name");
    render("{{name}}", "{Ada}", 0, "name");
    render("Code: {code}.", "Code: {x}.", 0, "code");
    render("Hi {name", "Hi {name", 0, "");
    render("{na-me} {}", "{na-me} {}", 0, "");
    /* Appends to what the buffer holds. */
    struct buf out = {0};
    buf_append_str(&out, "> ");
    struct row r = {{0}};
    uint32_t empty = 0;
    CHECK_INT(agent_render("{name}", 6, value, &r, &out, &empty), 0);
    CHECK_STR(out.data, "> Ada");
    CHECK_INT(out.len, 6);
    buf_free(&out);
}

static void test_render_long_names(void)
{
    char p[300];
    strcpy(p, "[{");
    memset(p + 2, 'N', 127);
    strcpy(p + 129, "}]");
    struct buf out = {0};
    struct row r = {{0}};
    uint32_t empty = 0;
    CHECK_INT(agent_render(p, strlen(p), value, &r, &out, &empty), 0);
    CHECK_STR(out.data, "[]");
    CHECK_INT(empty, 1);
    CHECK_INT(strlen(r.asked), 127);
    buf_free(&out);
    /* 128 characters: kept as text, nothing asked. */
    strcpy(p, "[{");
    memset(p + 2, 'N', 128);
    strcpy(p + 130, "}]");
    out = (struct buf){0};
    r = (struct row){{0}};
    empty = 0;
    CHECK_INT(agent_render(p, strlen(p), value, &r, &out, &empty), 0);
    CHECK_STR(out.data, p);
    CHECK_INT(empty, 0);
    CHECK_STR(r.asked, "");
    buf_free(&out);
}

static int put_txn(struct store_txn *t, void *arg)
{
    const char *const *kv = arg; /* ws, id, JSON */
    char key[AGENT_KEY_MAX];
    size_t klen = agent_key(key, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]));
    return store_put(t, DB_AGENT, key, klen, kv[2], strlen(kv[2]), 0);
}

static void test_get(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1024 * 1024, 16 * 1024 * 1024), 0);
    const char *good[3] = {"ws_1", "agent_1", "{\"name\":\"n\"}"};
    const char *bad[3] = {"ws_1", "agent_2", "{\"name\":"};
    CHECK_INT(store_write(&s, put_txn, good), 0);
    CHECK_INT(store_write(&s, put_txn, bad), 0);
    struct store_txn t;
    CHECK_INT(store_read_begin(&s, &t), 0);
    cJSON *agent = NULL;
    CHECK_INT(agent_get(&t, "ws_1", 4, "agent_1", 7, &agent), 0);
    CHECK(agent != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(agent, "name")), "n");
    cJSON_Delete(agent);
    agent = NULL;
    CHECK_INT(agent_get(&t, "ws_1", 4, "agent_2", 7, &agent), BC_ECORRUPT);
    CHECK_INT(agent_get(&t, "ws_1", 4, "agent_3", 7, &agent), BC_ENOTFOUND);
    CHECK_INT(agent_get(&t, "ws_2", 4, "agent_1", 7, &agent), BC_ENOTFOUND); /* another workspace */
    CHECK(agent == NULL);
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_names_in_order_with_repeats),
           CHECK_CASE(test_braces_that_are_not_variables), CHECK_CASE(test_name_length_limit),
           CHECK_CASE(test_key_lower_case), CHECK_CASE(test_render),
           CHECK_CASE(test_render_long_names), CHECK_CASE(test_get))
