#!/bin/sh
# Moves one workspace from the instance that holds it to another (docs/fleet.md, "Moving a
# workspace"): freeze on the source, wait for its calls in flight, export, import on the target,
# switch the placement map, reload the balancer, thaw on the target, drop from the source.
#
# Usage: deploy/move-workspace.sh WS_ID TARGET_INSTANCE [RELOAD_COMMAND]
#
# Environment:
#   SRC_ADMIN    command that runs `batchcalld admin` on the source's data directory, e.g.
#                "env BATCHCALLD_DATA_DIR=/srv/a batchcalld admin" or
#                "podman exec inst-a batchcalld admin" (required)
#   DST_ADMIN    the same for the target (required)
#   MAP          the placement map file (HAProxy form; MAP.nginx is written beside it) (required)
#   MAP_ADMIN    command that runs `batchcalld admin` where MAP is (default: batchcalld admin)
#   RELOAD       the balancer's reload command, if not given as the third argument
#                ("nginx -s reload", "systemctl reload haproxy", "true" for none)
#   MOVE_DIR     where the export file is written (default: a new directory under /tmp)
#   DST_IN_DIR   the same directory as the target's admin command sees it (default: MOVE_DIR;
#                set it when the target runs in a container with MOVE_DIR mounted elsewhere)
#   MOVE_WAIT_S  how long to wait for the source's calls in flight (default 300)
#   MOVE_DRAIN_S how long the source stays frozen after the reload before the drop (default 3):
#                balancer workers from before the reload finish the requests of their open
#                keep-alive connections with the old map, and those must get 503 + Retry-After
#                from the frozen source, not 421 from a source that no longer holds the workspace
#
# Exit 0 when moved. On a failure before the map is switched the source is thawed (and a
# partial import on the target dropped), so the workspace is back where it was; after the switch
# the script stops and says what is left to do. Every step is logged with its time.
set -eu

WS=${1:?usage: move-workspace.sh WS_ID TARGET_INSTANCE [RELOAD_COMMAND]}
TARGET=${2:?usage: move-workspace.sh WS_ID TARGET_INSTANCE [RELOAD_COMMAND]}
RELOAD=${3:-${RELOAD:?set RELOAD (or give the reload command as the third argument)}}
: "${SRC_ADMIN:?set SRC_ADMIN: the command running batchcalld admin on the source}"
: "${DST_ADMIN:?set DST_ADMIN: the command running batchcalld admin on the target}"
: "${MAP:?set MAP: the placement map file}"
MAP_ADMIN=${MAP_ADMIN:-batchcalld admin}
MOVE_WAIT_S=${MOVE_WAIT_S:-300}
MOVE_DRAIN_S=${MOVE_DRAIN_S:-3}
if [ -z "${MOVE_DIR:-}" ]; then
    MOVE_DIR=$(mktemp -d /tmp/batchcalld-move.XXXXXX)
fi
DST_IN_DIR=${DST_IN_DIR:-$MOVE_DIR}
FILE="$MOVE_DIR/$WS.bcx"

START=$(date +%s)
log() { printf '%s move %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$WS" "$*" >&2; }
# The number after "NAME": in one JSON document read on standard input.
field() { tr -d '\n' | sed -n "s/.*\"$1\":[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p"; }

IMPORTED=0
undo() {
    log "failed before the map was switched: putting the workspace back on the source"
    if [ "$IMPORTED" = 1 ]; then
        $DST_ADMIN workspace drop --workspace "$WS" --force >/dev/null ||
            log "could not drop the partial import on the target: drop it by hand"
    fi
    $SRC_ADMIN workspace thaw --workspace "$WS" >/dev/null ||
        log "could not thaw on the source: run '$SRC_ADMIN workspace thaw --workspace $WS'"
    exit 1
}

log "1/6 freeze on the source (the API answers 503 workspace_moving from now on)"
$SRC_ADMIN workspace freeze --workspace "$WS" >/dev/null
trap undo INT TERM

# Calls in flight finish on the source; an upload that was running finishes too. Quiet twice,
# two seconds apart: the server stops dialling a frozen workspace within half a second, and an
# upload that ends meanwhile must not leave a batch it could still dial.
log "2/6 waiting for calls in flight and uploads on the source (up to ${MOVE_WAIT_S}s)"
deadline=$(($(date +%s) + MOVE_WAIT_S))
quiet=0
while :; do
    st=$($SRC_ADMIN workspace status --workspace "$WS") || undo
    calls=$(printf '%s' "$st" | field callsInProgress)
    uploads=$(printf '%s' "$st" | field uploadsInProgress)
    if [ "${calls:-1}" = 0 ] && [ "${uploads:-1}" = 0 ]; then
        quiet=$((quiet + 1))
        [ "$quiet" -ge 2 ] && break
    else
        quiet=0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "still $calls calls in progress and $uploads uploads after ${MOVE_WAIT_S}s"
        undo
    fi
    sleep 2
done

log "3/6 export from the source to $FILE"
$SRC_ADMIN workspace export --workspace "$WS" --out - >"$FILE" || undo
log "    $(wc -c <"$FILE") bytes"

log "4/6 import on the target (it arrives frozen)"
$DST_ADMIN workspace import --in "$DST_IN_DIR/$WS.bcx" >/dev/null || undo
IMPORTED=1

log "5/6 placement map -> $TARGET, reload the balancer"
$MAP_ADMIN placement set --map "$MAP" --workspace "$WS" --instance "$TARGET" >/dev/null || undo
trap - INT TERM
if ! sh -c "$RELOAD"; then
    log "the reload command failed: the map names $TARGET, the balancer may still use the old one;"
    log "reload it, then run: $DST_ADMIN workspace thaw --workspace $WS;" \
        "$SRC_ADMIN workspace drop --workspace $WS"
    exit 1
fi

log "6/6 thaw on the target, drop from the source"
if ! $DST_ADMIN workspace thaw --workspace "$WS" >/dev/null; then
    log "could not thaw on the target: run '$DST_ADMIN workspace thaw --workspace $WS'"
    exit 1
fi
sleep "$MOVE_DRAIN_S" # the old map's last requests reach the frozen source: 503, not 421
if ! $SRC_ADMIN workspace drop --workspace "$WS" >/dev/null; then
    log "moved, but the source still holds a frozen copy: run" \
        "'$SRC_ADMIN workspace drop --workspace $WS'"
    exit 1
fi
rm -f "$FILE"
log "moved to $TARGET in $(($(date +%s) - START))s (unavailable meanwhile: 503 + Retry-After)"
