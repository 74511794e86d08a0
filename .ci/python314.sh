#!/usr/bin/env bash
# Provision CPython 3.14 from Debian's unstable suite (sid) into a cache folder, without
# building it and without touching the system's apt state (issue 17).
#
#   bash .ci/python314.sh            # last line of stdout: the interpreter's path
#   CORESWEEP_PY314=$(bash .ci/python314.sh | tail -1)
#
# Cache folder: $CORESWEEP_PY314_CACHE, default ~/.cache/coresweep/python3.14. Idempotent: when
# the interpreter is already there (and answers), it only prints its path.
# CORESWEEP_PY314_URI overrides the archive URI (a mirror); default: the system's own Debian entry
# (there is no address written in here: without an entry and without the variable, it fails).
#
# How: a separate sources list naming suite `sid` (same URI and keyring as the system's own
# Debian entry) with its own lists/cache folders, `apt-get update` and `apt-get download` with
# those options, the .debs of python3.14-minimal, libpython3.14-minimal, libpython3.14-stdlib
# and the libraries they depend on (resolved with `apt-cache depends`, libc6 included),
# `dpkg-deb -x` into one folder, then patchelf points the binary at that folder's loader and
# libraries. DT_RPATH (--force-rpath), not DT_RUNPATH: an RPATH on the executable also serves
# the libraries that extension modules (_ssl, _sqlite3, _lzma, ...) load, so they get sid's
# libssl/libsqlite rather than the older system ones.
#
# On failure: exactly one line on stderr (also written to <cache>/failure.txt, where the tests
# read why they skip) and a non-zero exit status; apt's own output is in <cache>/apt.log.
# Not part of the installed package. Needs: bash, apt-get, dpkg-deb, patchelf (installed with
# apt-get when missing and running as root, as in CI). amd64 only.
set -uo pipefail

CACHE="${CORESWEEP_PY314_CACHE:-$HOME/.cache/coresweep/python3.14}"
ROOT="$CACHE/root"
PY="$ROOT/usr/bin/python3.14"
FAILURE="$CACHE/failure.txt"
LOG="$CACHE/apt.log"
SUITE=sid
PYPKGS=(python3.14-minimal libpython3.14-minimal libpython3.14-stdlib)
# Dependencies that are data, not libraries the interpreter loads (Debian's stdlib package
# depends on them; Python runs without them). Everything else named lib*/zlib* is taken.
SKIP_DEPS=" tzdata media-types mime-support netbase readline-common gcc-16-base gcc-15-base \
gcc-14-base openssl-provider-legacy "

fail() {
    mkdir -p "$CACHE" 2>/dev/null
    local line="python314.sh: $*"
    printf '%s\n' "$line" > "$FAILURE" 2>/dev/null
    printf '%s\n' "$line" >&2
    exit 1
}

# The check every run does (also the idempotent path): version and InterpreterPoolExecutor.
check() {
    "$1" -c 'import sys, concurrent.futures as cf
assert sys.version_info[:2] == (3, 14), sys.version
cf.InterpreterPoolExecutor
print(sys.version.split()[0])' 2>/dev/null
}

mkdir -p "$CACHE" || fail "cannot create the cache folder $CACHE"

# One provisioning at a time (a second caller waits, then finds it done).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.lock"
    flock 9
fi

if [ -x "$PY" ] && [ -f "$CACHE/ok" ] && check "$PY" >/dev/null; then
    rm -f "$FAILURE"
    echo "$PY"
    exit 0
fi

rm -f "$CACHE/ok"
[ "$(uname -s)" = Linux ] || fail "Linux only (Debian packages); this is $(uname -s)"
command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
    || fail "needs apt-get and dpkg-deb (a Debian-based system)"
ARCH="$(dpkg --print-architecture 2>/dev/null)"
[ "$ARCH" = amd64 ] || fail "amd64 only (the loader path is x86_64's); this system is ${ARCH:-unknown}"
: > "$LOG"

# ---- the system's own Debian entry: its URI and keyring ------------------------------------
CODENAME="$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")"
URI="" KEYRING=""
shopt -s nullglob
for f in /etc/apt/sources.list.d/*.sources; do
    # deb822 stanzas; comment lines dropped; first stanza of type deb whose Suites name the
    # release itself (not -updates/-security) and whose URI is a Debian archive.
    read -r URI KEYRING < <(grep -v '^[[:space:]]*#' "$f" | awk -v code="$CODENAME" '
        BEGIN { RS = ""; FS = "\n" }
        {
            types = uris = suites = signed = ""
            for (i = 1; i <= NF; i++) {
                split($i, kv, ":"); key = tolower(kv[1]); val = substr($i, length(kv[1]) + 2)
                gsub(/^[ \t]+|[ \t]+$/, "", val)
                if (key == "types") types = val; else if (key == "uris") uris = val
                else if (key == "suites") suites = val; else if (key == "signed-by") signed = val
            }
            if (types !~ /(^| )deb( |$)/ || uris !~ /debian/ || uris ~ /security/) next
            n = split(suites, s, /[ \t]+/); hit = 0
            for (j = 1; j <= n; j++) if (s[j] == code || code == "") hit = 1
            if (!hit) next
            split(uris, u, /[ \t]+/)
            if (signed !~ /^\//) signed = ""
            print u[1], signed; exit
        }')
    [ -n "$URI" ] && break
done
if [ -z "$URI" ] && [ -f /etc/apt/sources.list ]; then
    # one-line format: deb [signed-by=/path ...] URI suite components
    read -r URI KEYRING < <(awk -v code="$CODENAME" '
        $1 == "deb" {
            signed = ""; i = 2
            if ($2 ~ /^\[/) {
                for (; i <= NF; i++) {
                    if ($i ~ /^\[?signed-by=/) { signed = $i; sub(/^\[?signed-by=/, "", signed); sub(/\]$/, "", signed) }
                    if ($i ~ /\]$/) { i++; break }
                }
            }
            uri = $i; suite = $(i + 1)
            if (uri ~ /debian/ && uri !~ /security/ && (suite == code || code == "")) { print uri, signed; exit }
        }' /etc/apt/sources.list)
fi
URI="${CORESWEEP_PY314_URI:-$URI}"
[ -n "$URI" ] || fail "no Debian archive in this system's apt sources (/etc/apt/sources.list[.d]); set CORESWEEP_PY314_URI to a mirror"
if [ -z "$KEYRING" ]; then
    KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
fi
[ -r "$KEYRING" ] || fail "Debian's archive keyring $KEYRING is missing (install debian-archive-keyring)"

# ---- separate apt state ---------------------------------------------------------------------
APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" \
    || fail "cannot create $APT"
cat > "$APT/sid.sources" <<EOF
Types: deb
URIs: $URI
Suites: $SUITE
Components: main
Architectures: $ARCH
Signed-By: $KEYRING
EOF
OPTS=(
    -o "Dir::Etc::SourceList=$APT/sid.sources"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::Cache=$APT/cache"
    -o Dir::Etc::Preferences=/dev/null
    -o Dir::Etc::PreferencesParts=/dev/null
    -o Acquire::http::Timeout=30
    -o Acquire::Retries=2
    -o Acquire::Languages=none
)
# apt drops to the _apt user to download, which cannot write under root's home.
[ "$(id -u)" = 0 ] && OPTS+=(-o APT::Sandbox::User=root)

echo "python314.sh: Debian $SUITE from $URI into $CACHE (apt's output: $LOG)"
# Runs one apt step, its output appended to $LOG; on failure $WHY is apt's first error line.
STEP="$CACHE/step.log"
apt_step() {
    "$@" >"$STEP" 2>&1
    local rc=$?
    cat "$STEP" >>"$LOG"
    WHY="$( (grep -E '^E: .*(Failed to fetch|Unable to locate)' "$STEP"; grep -E '^[EW]: ' "$STEP") \
        | head -1 | sed -e 's/^[EW]: //' -e 's/[[:space:]]\+/ /g' | cut -c1-200)"
    return $rc
}
if ! apt_step apt-get "${OPTS[@]}" --error-on=any update; then
    fail "apt-get update of Debian $SUITE from $URI failed (registry not answering?): ${WHY:-see $LOG}"
fi

# ---- what to download: the three python packages and the libraries they need ----------------
depends() {  # direct Depends/Pre-Depends of the given packages, one name a line
    apt-cache "${OPTS[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$@" 2>>"$LOG" \
        | awk '/^ *\|?(Pre)?Depends: / { name = $2; if (name !~ /^</) print name }'
}
for p in "${PYPKGS[@]}"; do
    v="$(apt-cache "${OPTS[@]}" show --no-all-versions "$p" 2>>"$LOG" | awk '/^Version:/ { print $2; exit }')"
    [ -n "$v" ] || fail "Debian $SUITE no longer has $p (python3.14 moved on?); see $LOG"
    case "$v" in 3.14.*) ;; *) fail "$p in Debian $SUITE is version $v, not 3.14.x" ;; esac
done
declare -A SEEN=()
WANT=("${PYPKGS[@]}" libc6)
queue=("${WANT[@]}")
for p in "${WANT[@]}"; do SEEN[$p]=1; done
while [ ${#queue[@]} -gt 0 ]; do
    mapfile -t deps < <(depends "${queue[@]}" | sort -u)
    queue=()
    for d in "${deps[@]}"; do
        [ -n "${SEEN[$d]:-}" ] && continue
        SEEN[$d]=1
        case "$SKIP_DEPS" in *" $d "*) continue ;; esac
        case "$d" in lib*|zlib*) WANT+=("$d"); queue+=("$d") ;; esac
    done
done

rm -f "$APT/debs"/*.deb
if ! apt_step bash -c 'cd "$1" && shift && exec "$@"' _ "$APT/debs" apt-get "${OPTS[@]}" download "${WANT[@]}"; then
    case "$WHY" in
        *404*|*"Unable to locate"*|*"Can't select"*)
            fail "a package version moved in Debian $SUITE since its index was read ($WHY); run again" ;;
        *) fail "apt-get download from Debian $SUITE failed (registry not answering?): ${WHY:-see $LOG}" ;;
    esac
fi

# ---- unpack, patch, check -------------------------------------------------------------------
if ! command -v patchelf >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || fail "patchelf is missing: install it (apt-get install patchelf)"
    echo "python314.sh: installing patchelf from the system's sources"
    apt-get install -y --no-install-recommends patchelf >>"$LOG" 2>&1 \
        || { apt-get update >>"$LOG" 2>&1 && apt-get install -y --no-install-recommends patchelf >>"$LOG" 2>&1; } \
        || fail "patchelf is missing and apt-get install patchelf failed; see $LOG"
fi

NEW="$CACHE/root.new"
rm -rf "$NEW" && mkdir -p "$NEW" || fail "cannot create $NEW"
for deb in "$APT/debs"/*.deb; do
    dpkg-deb -x "$deb" "$NEW" 2>>"$LOG" || fail "dpkg-deb -x $(basename "$deb") failed"
done
LIBDIR="$NEW/usr/lib/x86_64-linux-gnu"
[ -x "$NEW/usr/bin/python3.14" ] || fail "python3.14-minimal did not contain usr/bin/python3.14"
[ -e "$LIBDIR/ld-linux-x86-64.so.2" ] || fail "libc6 from $SUITE did not contain the loader at usr/lib/x86_64-linux-gnu"
# Paths baked in are final ones (ROOT), so the folder is moved into place after patching.
FINAL_LIBDIR="$ROOT/usr/lib/x86_64-linux-gnu"
patchelf --set-interpreter "$FINAL_LIBDIR/ld-linux-x86-64.so.2" --force-rpath \
    --set-rpath "$FINAL_LIBDIR" "$NEW/usr/bin/python3.14" 2>>"$LOG" || fail "patchelf failed; see $LOG"
rm -rf "$ROOT.old"
[ -e "$ROOT" ] && mv "$ROOT" "$ROOT.old"
mv "$NEW" "$ROOT" || fail "cannot move $NEW to $ROOT"
rm -rf "$ROOT.old"

version="$(check "$PY")" || fail "the unpacked python3.14 does not run, or has no InterpreterPoolExecutor: $("$PY" -c 'import concurrent.futures' 2>&1 | tail -1 | cut -c1-120)"
ls "$APT/debs" > "$CACHE/packages.txt"
rm -f "$APT/debs"/*.deb "$FAILURE" "$STEP"
touch "$CACHE/ok"
echo "python314.sh: Python $version, $(wc -l < "$CACHE/packages.txt") packages"
echo "$PY"
