#!/usr/bin/env bash
# test_docs.sh — runs every command of the documentation and of the configs'
# comments, so that neither can drift from the CLI.
#
# RULES FOR DOCUMENTATION (README.md and docs/*.md):
#   1. A command to run goes in a fenced ```sh block. In such a block, a line
#      starting with `hpinn `, `build/bin/hpinn `, `./build/bin/hpinn ` or
#      `make ` is a command; a trailing `\` continues it on the next line; the
#      rest of the line after ` #` is a comment. Other lines (cmake, cc, export,
#      comments) are not run.
#   2. A synopsis with placeholders (CONFIG, DIR, [--set ...]) is no command:
#      write it in a ```text block (or an indented block).
#   3. The commands of one file run in document order in one scratch directory,
#      where configs/ and docs/ are the repository's, build/ is the build tree
#      and `hpinn` is build/bin/hpinn: a later command can use an earlier one's
#      run directory (`hpinn run ... --out runs/try1`, then `--resume runs/try1`).
#   4. Every stage of every training run is cut to 2 iterations
#      (HPINN_TEST_MAX_ITERATIONS=2, a hook of the trainer; docs/user-guide.md).
#   5. Each command must exit with 0 within 120 s.
#   6. A block that cannot run here (make run, make test, a long experiment,
#      several GB, mpirun, a plugin built by an earlier step) is preceded by the
#      line
#          <!-- docs-test: skip (the reason) -->
#      as the last non-blank line before its opening fence. The test lists every
#      skipped block with its reason.
#
# RULES FOR CONFIG RECIPES (configs/**/*.yaml): a comment line of the form
#      #   hpinn ARGS...            (or build/bin/hpinn ARGS...)
# is a recipe and runs the same way (from the repository root, rule 4 and 5);
# a comment line right after it of the form
#      #   -> TEXT
# names text its standard output must contain.
#
# Usage: HPINN_SOURCE_DIR=... HPINN_BUILD_DIR=... bash tests/test_docs.sh [FILE.md...]
set -u
src=${HPINN_SOURCE_DIR:?HPINN_SOURCE_DIR is not set}
build=${HPINN_BUILD_DIR:?HPINN_BUILD_DIR is not set}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hpinn-docs-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export PATH="$build/bin:$PATH" HPINN_TEST_MAX_ITERATIONS=2 HPINN_PLUGIN_PATH=
unset COLUMNS

failures=0 ran=0 skipped=0

# The commands of one markdown file: "CMD<TAB>line<TAB>command" and
# "SKIP<TAB>line<TAB>reason" records (rule 1 and 6).
extract_markdown() {
    awk '
    function flush() { if (cmd != "") { printf "CMD\t%d\t%s\n", cmd_line, cmd; cmd = "" } }
    {
        sub(/\r$/, "")
    }
    !in_block && /^```/ {
        in_block = 1
        is_sh = ($0 ~ /^```sh[ \t]*$/)
        if (is_sh && skip != "") { printf "SKIP\t%d\t%s\n", NR, skip; skip_block = 1 } else skip_block = 0
        skip = ""
        next
    }
    in_block && /^```/ { flush(); in_block = 0; next }
    in_block {
        if (!is_sh || skip_block) next
        line = $0
        if (cont) {
            cont = 0
            sub(/^[ \t]+/, " ", line)
            cmd = cmd line
        } else if (line ~ /^(\.\/)?(build\/bin\/)?hpinn[ \t]/ || line ~ /^make([ \t]|$)/) {
            flush()
            cmd = line
            cmd_line = NR
        } else {
            next
        }
        if (cmd ~ /\\[ \t]*$/) { sub(/\\[ \t]*$/, "", cmd); cont = 1 }
        else flush()
        next
    }
    /^<!-- docs-test: skip/ {
        reason = $0
        sub(/^<!-- docs-test: skip[ \t]*/, "", reason)
        sub(/[ \t]*-->[ \t]*$/, "", reason)
        skip = (reason == "" ? "(no reason given)" : reason)
        next
    }
    /^[ \t]*$/ { next }
    { skip = "" }
    ' "$1"
}

# The recipes of a config file: "CMD<TAB>line<TAB>command" and
# "EXPECT<TAB>line<TAB>text" records.
extract_recipes() {
    awk '
    /^#[ \t]+(build\/bin\/)?hpinn[ \t]/ {
        line = $0; sub(/^#[ \t]+/, "", line)
        printf "CMD\t%d\t%s\n", NR, line; last = NR; next
    }
    /^#[ \t]+->[ \t]/ && last == NR - 1 {
        text = $0; sub(/^#[ \t]+->[ \t]+/, "", text)
        printf "EXPECT\t%d\t%s\n", NR, text; next
    }
    ' "$1"
}

# Run one command in directory $1; $2 where it comes from; $4 text its stdout
# must contain. Returns nonzero on failure.
n_log=0
run_command() {
    local dir=$1 where=$2 cmd=$3 expect=${4:-}
    n_log=$((n_log + 1))
    local log="$scratch/log.$n_log"
    (cd "$dir" && timeout 120 bash -c "$cmd") >"$log.out" 2>"$log.err" </dev/null
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL $where: exit $rc: $cmd"
        tail -n 15 "$log.err" | sed 's/^/    /'
        return 1
    elif [ -n "$expect" ] && ! grep -qF -- "$expect" "$log.out"; then
        echo "FAIL $where: the output lacks '$expect': $cmd"
        tail -n 15 "$log.out" | sed 's/^/    /'
        return 1
    fi
    echo "ok   $where: $cmd"
}

check() {
    ran=$((ran + 1))
    run_command "$@" || failures=$((failures + 1))
}

# A scratch directory laid out like the repository (rule 3).
new_workdir() {
    local dir="$scratch/$1"
    mkdir -p "$dir"
    ln -s "$src/configs" "$dir/configs"
    ln -s "$src/docs" "$dir/docs"
    ln -s "$build" "$dir/build"
    ln -s "$src/Makefile" "$dir/Makefile"
    ln -s "$src/tests" "$dir/tests"
    echo "$dir"
}

if [ $# -gt 0 ]; then docs=("$@"); else docs=("$src/README.md" "$src"/docs/*.md); fi
for md in "${docs[@]}"; do
    name=${md#"$src"/}
    work=$(new_workdir "$(echo "$name" | tr '/.' '__')")
    while IFS=$'\t' read -r kind line text; do
        if [ "$kind" = SKIP ]; then
            skipped=$((skipped + 1))
            echo "skip $name:$line: $text"
        else
            check "$work" "$name:$line" "$text"
        fi
    done < <(extract_markdown "$md")
done

if [ $# -eq 0 ]; then
    work=$(new_workdir configs)
    for yaml in $(cd "$src" && find configs -name '*.yaml' | sort); do
        pending="" pending_line=""
        while IFS=$'\t' read -r kind line text; do
            if [ "$kind" = EXPECT ]; then
                [ -n "$pending" ] && check "$work" "$yaml:$pending_line" "$pending" "$text"
                pending=""
                continue
            fi
            [ -n "$pending" ] && check "$work" "$yaml:$pending_line" "$pending"
            pending=$text pending_line=$line
        done < <(extract_recipes "$src/$yaml")
        [ -n "$pending" ] && check "$work" "$yaml:$pending_line" "$pending"
    done
fi

# docs/pipeline-reference.md's core block is `hpinn help pipeline` verbatim (it had drifted once)
if [ $# -eq 0 ]; then
    ref_block=$(awk '/^## Core sections/{f=1; next} f && /^```/{if (in_block) exit; in_block=1; next} in_block' \
        "$src/docs/pipeline-reference.md")
    if [ "$ref_block" != "$("$build/bin/hpinn" help pipeline)" ]; then
        echo "FAIL docs/pipeline-reference.md: the core-sections block differs from \`hpinn help pipeline\` (regenerate it):"
        diff <(printf '%s\n' "$ref_block") <("$build/bin/hpinn" help pipeline) | head -20
        failures=$((failures + 1))
    fi
fi

# Every relative markdown link and image resolves, and every docs page that a
# doc, config, source file or test names exists: pages get split and renamed,
# and a stale pointer sends a reader nowhere.
link_failures=0
for md in "${docs[@]}"; do
    dir=$(dirname "$md")
    while IFS= read -r target; do
        case $target in http://* | https://* | mailto:* | '#'*) continue ;; esac
        file=${target%%#*}
        [ -e "$dir/$file" ] && continue
        echo "FAIL ${md#"$src"/}: the link ($target) points to no file"
        link_failures=$((link_failures + 1))
    done < <(grep -o '](\([^) ]*\))' "$md" | sed 's/^](//; s/)$//')
done
if [ $# -eq 0 ]; then
    while IFS=: read -r file name; do
        [ -e "$src/$name" ] && continue
        echo "FAIL $file: names $name, which does not exist"
        link_failures=$((link_failures + 1))
    done < <(cd "$src" && grep -roE 'docs/[A-Za-z0-9_-]+\.md' README.md Makefile docs configs core plugins tests bench \
        | sort -u)
fi
failures=$((failures + link_failures))

echo "docs test: $ran commands run, $failures failed, $skipped blocks skipped (listed above with their reasons)"
[ "$ran" -gt 0 ] || { echo "docs test: no command found: the extraction is broken"; exit 1; }
[ "$failures" -eq 0 ]
