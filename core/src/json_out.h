/* json_out.h (private) — the JSON writing every hpinn record uses (run.json,
 * summary.json, events.jsonl): strings escaped, numbers with 17 significant
 * digits (they read back to the same double), non-finite numbers as null. */
#ifndef HPINN_JSON_OUT_H
#define HPINN_JSON_OUT_H

#include <stdio.h>

void hp__json_string(FILE *f, const char *s);
void hp__json_number(FILE *f, double v);

#endif
