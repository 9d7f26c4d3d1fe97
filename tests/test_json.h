/* test_json.h — a strict little JSON reader for the tests of files hpinn writes
 * (events.jsonl, summary.json): a whole value is checked against the JSON
 * grammar, and the members of a top-level object can be looked up by key. It
 * is written out here rather than shared with the writer (core/src/json_out.c),
 * so that a test compares two implementations. */
#ifndef HPINN_TEST_JSON_H
#define HPINN_TEST_JSON_H

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct hp_test_json_member {
    char key[64];
    const char *value; /* the member's text in the parsed string */
    size_t length;
} hp_test_json_member;

static inline void hp_test_json_ws(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') ++*p;
}

static inline int hp_test_json_string(const char **p, char *out, size_t size) {
    if (**p != '"') return 0;
    size_t n = 0;
    for (++*p; **p != '"'; ++*p) {
        unsigned char c = (unsigned char)**p;
        if (c == '\0' || c < 0x20) return 0;
        if (c == '\\') {
            ++*p;
            if (**p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)(*p)[i])) return 0;
                *p += 4;
                c = '?';
            } else if (strchr("\"\\/bfnrt", **p) && **p) {
                c = (unsigned char)**p;
            } else {
                return 0;
            }
        }
        if (out && n + 1 < size) out[n++] = (char)c;
    }
    ++*p;
    if (out && size) out[n] = '\0';
    return 1;
}

static inline int hp_test_json_value(const char **p, int depth);

static inline int hp_test_json_number(const char **p) {
    const char *s = *p;
    if (**p == '-') ++*p;
    if (**p == '0') ++*p;
    else if (isdigit((unsigned char)**p)) while (isdigit((unsigned char)**p)) ++*p;
    else return 0;
    if (**p == '.') {
        ++*p;
        if (!isdigit((unsigned char)**p)) return 0;
        while (isdigit((unsigned char)**p)) ++*p;
    }
    if (**p == 'e' || **p == 'E') {
        ++*p;
        if (**p == '+' || **p == '-') ++*p;
        if (!isdigit((unsigned char)**p)) return 0;
        while (isdigit((unsigned char)**p)) ++*p;
    }
    return *p > s;
}

static inline int hp_test_json_value(const char **p, int depth) {
    if (depth > 64) return 0;
    hp_test_json_ws(p);
    if (**p == '"') return hp_test_json_string(p, NULL, 0);
    if (**p == '{' || **p == '[') {
        char close = **p == '{' ? '}' : ']';
        int object = close == '}';
        ++*p;
        hp_test_json_ws(p);
        if (**p == close) {
            ++*p;
            return 1;
        }
        for (;;) {
            hp_test_json_ws(p);
            if (object) {
                if (!hp_test_json_string(p, NULL, 0)) return 0;
                hp_test_json_ws(p);
                if (**p != ':') return 0;
                ++*p;
            }
            if (!hp_test_json_value(p, depth + 1)) return 0;
            hp_test_json_ws(p);
            if (**p == ',') {
                ++*p;
                continue;
            }
            if (**p != close) return 0;
            ++*p;
            return 1;
        }
    }
    if (strncmp(*p, "true", 4) == 0) return *p += 4, 1;
    if (strncmp(*p, "false", 5) == 0) return *p += 5, 1;
    if (strncmp(*p, "null", 4) == 0) return *p += 4, 1;
    return hp_test_json_number(p);
}

/* Parse `text` (exactly one object, surrounding white space allowed) into its
 * top-level members; returns their number, or -1 when it is not valid JSON. */
static inline int hp_test_json_object(const char *text, hp_test_json_member *out, int max) {
    const char *p = text;
    hp_test_json_ws(&p);
    if (*p != '{') return -1;
    const char *start = p;
    if (!hp_test_json_value(&p, 0)) return -1;
    hp_test_json_ws(&p);
    if (*p) return -1;
    int n = 0;
    p = start + 1;
    hp_test_json_ws(&p);
    while (*p == '"') {
        hp_test_json_member m;
        hp_test_json_string(&p, m.key, sizeof m.key);
        hp_test_json_ws(&p);
        p++; /* ':' */
        hp_test_json_ws(&p);
        m.value = p;
        hp_test_json_value(&p, 0);
        m.length = (size_t)(p - m.value);
        if (n < max) out[n++] = m;
        hp_test_json_ws(&p);
        if (*p == ',') p++;
        hp_test_json_ws(&p);
    }
    return n;
}

static inline const hp_test_json_member *hp_test_json_get(const hp_test_json_member *m, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (strcmp(m[i].key, key) == 0) return &m[i];
    return NULL;
}

/* A member's number (null: NAN); a member that is neither is a test failure. */
static inline double hp_test_json_number_of(const hp_test_json_member *m) {
    if (m->length == 4 && strncmp(m->value, "null", 4) == 0) return NAN;
    char buf[64];
    size_t n = m->length < sizeof buf - 1 ? m->length : sizeof buf - 1;
    memcpy(buf, m->value, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (*end) fail_msg("JSON member %s: '%s' is not a number", m->key, buf);
    return v;
}

/* A member's string (unescaped: \uXXXX as '?'); NULL when it is not a string. */
static inline const char *hp_test_json_string_of(const hp_test_json_member *m, char *buf, size_t size) {
    const char *p = m->value;
    return hp_test_json_string(&p, buf, size) ? buf : NULL;
}

#endif
