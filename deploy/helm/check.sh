#!/usr/bin/env bash
# Lints and renders the Hindsight chart with its default values and with ci/full-values.yaml, then
# checks what was rendered: every environment variable name is one Hindsight reads, the worker and
# agent commands carry their flags, every pod runs locked down, and no Secret is created.
# Invalid values must be refused as well.
#
#   deploy/helm/check.sh            helm from $HELM, the PATH or $(go env GOPATH)/bin
#   KUBE_VERSION=1.29.0 deploy/helm/check.sh
#
# Needs bash, awk, grep and helm 3 (deploy/helm/README.md says how to build it without internet).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
chart="$here/hindsight"
full_values="$chart/ci/full-values.yaml"
# Explicit, so that a helm built without release flags (which then assumes Kubernetes 1.20) renders
# the chart the way a real cluster would.
kube_version=${KUBE_VERSION:-1.30.0}

# The variables Hindsight reads that a deployment may set; nothing else may reach its containers.
allowed_env=(
  DATABASE_URL TEMPORAL_ADDRESS TEMPORAL_NAMESPACE HINDSIGHT_TASK_QUEUE HINDSIGHT_DATA_DIR
  HINDSIGHT_SECRET_KEY_FILE HINDSIGHT_WEB_HOST HINDSIGHT_WEB_PORT HINDSIGHT_TEMPORAL_UI_URL
  HINDSIGHT_TEMPORAL_UI_UPSTREAM
  HINDSIGHT_SANDBOX_ROOT HINDSIGHT_SANDBOX_DRIVER HINDSIGHT_LOG_LEVEL TEMPORAL_TLS_CA_FILE
  TEMPORAL_TLS_CERT_FILE TEMPORAL_TLS_KEY_FILE TEMPORAL_TLS_SERVER_NAME HINDSIGHT_CODEC_TOKEN_FILE
  HINDSIGHT_CODEC_CORS_ORIGIN HINDSIGHT_PREVIOUS_SECRET_KEY_FILES HINDSIGHT_PUBLIC_URL
  HINDSIGHT_AUDIT_RETENTION_DAYS HINDSIGHT_WAL_SPOOL_DIR
  HINDSIGHT_CODEC_CORS_ORIGIN HINDSIGHT_PREVIOUS_SECRET_KEY_FILES HINDSIGHT_METRICS_TOKEN
  HINDSIGHT_WORKER_METRICS_PORT MALLOC_ARENA_MAX NODE_OPTIONS
)

find_helm() {
  if [[ -n ${HELM:-} ]]; then echo "$HELM"; return; fi
  if command -v helm >/dev/null 2>&1; then command -v helm; return; fi
  if command -v go >/dev/null 2>&1 && [[ -x "$(go env GOPATH)/bin/helm" ]]; then echo "$(go env GOPATH)/bin/helm"; return; fi
  echo "helm not found: install helm 3, or build it with" >&2
  echo "  GOFLAGS=-mod=mod go install helm.sh/helm/v3/cmd/helm@v3.22.0" >&2
  exit 2
}
helm=$(find_helm)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...: counts the command's success
  local what=$1; shift
  if "$@"; then ok; else fail "$what"; fi
}

# ---------------------------------------------------------------------------------------------
# Reading rendered manifests. Helm's output is regular enough for awk: one document per "---",
# two-space indentation, lists indented under their key.

split_docs() { # split_docs FILE DIR: one file per document, named NN.yaml
  mkdir -p "$2"
  awk -v dir="$2" '/^---/ { n++; next } { print > (dir "/" sprintf("%02d", n) ".yaml") }' "$1"
}
doc_kind() { awk '/^kind:/ { print $2; exit }' "$1"; }
doc_name() { awk '/^metadata:/ { m = 1; next } m && /^  name:/ { print $2; exit }' "$1"; }

# Names of the container env entries: the "name" key of each item of every "env:" list.
env_names() {
  awk '
    function indent(s) { match(s, /^ */); return RLENGTH }
    /^[[:space:]]*#/ { next }
    {
      ind = indent($0)
      if (inenv) {
        if ($0 ~ /^[[:space:]]*$/) next
        if (item < 0 && $0 ~ /^ *- /) item = ind
        if (item < 0 || ind < item || (ind == item && $0 !~ /^ *- /)) { inenv = 0 }
        else {
          line = $0; sub(/^ *(- )?/, "", line)
          if ((ind == item || ind == item + 2) && line ~ /^name:/) { sub(/^name: */, "", line); gsub(/"/, "", line); print line }
          next
        }
      }
      if ($0 ~ /^ *env:[[:space:]]*$/) { inenv = 1; item = -1 }
    }' "$1"
}

# Keys of a ConfigMap's data.
configmap_keys() {
  awk '/^data:/ { d = 1; next } d && /^[^ ]/ { d = 0 } d && /^  [^ #][^:]*:/ { k = $1; sub(/:$/, "", k); print k }' "$1"
}

# The container args, space-separated: block lists and flow lists alike, quotes removed.
container_args() {
  awk '
    function indent(s) { match(s, /^ */); return RLENGTH }
    function unquote(s) { gsub(/^[ "]+|[ "]+$/, "", s); return s }
    /^[[:space:]]*#/ { next }
    inargs {
      if ($0 ~ /^ *- / && indent($0) >= base) { v = $0; sub(/^ *- /, "", v); out = out " " unquote(v); next }
      inargs = 0
    }
    /^ *args: *\[/ {
      v = $0; sub(/^ *args: *\[/, "", v); sub(/\] *$/, "", v)
      n = split(v, parts, ","); for (i = 1; i <= n; i++) out = out " " unquote(parts[i])
      next
    }
    /^ *args: *$/ { inargs = 1; base = indent($0) }
    END { sub(/^ /, "", out); print out }' "$1"
}

# The value of one env entry (the line after its name).
env_value() { grep -A1 -E "^ *- name: $2\$" "$1" | awk '/value:/ { sub(/^ *value: */, ""); gsub(/"/, ""); print; exit }'; }

is_allowed_env() {
  local name=$1 a
  for a in "${allowed_env[@]}"; do [[ $a == "$name" ]] && return 0; done
  return 1
}

# Small predicates for check().
absent() { ! grep -qE "$2" "$1"; }                           # absent FILE ERE
near() { grep -A"$4" -E "$2" "$1" | grep -qE "$3"; }         # near FILE ERE FOLLOWING-ERE LINES
after() { grep -B1 -E "$2" "$1" | grep -qE "$3"; }           # after FILE ERE PRECEDING-ERE
starts_with() { [[ $1 == "$2"* ]]; }
has_flag() { [[ " $1 " =~ " $2 "[0-9]+(\.[0-9]+)?" " ]]; }  # has_flag ARGS FLAG: followed by a number

# ---------------------------------------------------------------------------------------------
# Checks that hold for every rendering.

check_common() { # check_common LABEL DIR
  local label=$1 dir=$2 doc kind name value
  local deployments=0
  for doc in "$dir"/*.yaml; do
    kind=$(doc_kind "$doc")
    name=$(doc_name "$doc")
    [[ -z $kind ]] && continue
    check "$label: $kind $name: the chart creates no Secret" test "$kind" != Secret
    if [[ $kind == ConfigMap ]]; then
      while read -r value; do
        check "$label: ConfigMap $name sets $value, which Hindsight does not read" is_allowed_env "$value"
      done < <(configmap_keys "$doc")
    fi
    [[ $kind == Deployment ]] || continue
    deployments=$((deployments + 1))
    while read -r value; do
      check "$label: $name sets env $value, which is not in the allowed list" is_allowed_env "$value"
    done < <(env_names "$doc")
    # envFrom may only bring in the chart's ConfigMap, whose keys were checked above.
    check "$label: $name: envFrom other than a configMapRef" absent "$doc" '^ *(- )?(secretRef|prefix):'
    check "$label: $name: envFrom without a configMapRef" grep -qE '^ *- configMapRef:' "$doc"
    check "$label: $name: DATABASE_URL not from a Secret" near "$doc" '^ *- name: DATABASE_URL$' '^ *secretKeyRef:$' 2
    check "$label: $name: service links on (they inject HINDSIGHT_WEB_PORT=tcp://…)" grep -qE '^ *enableServiceLinks: false$' "$doc"
    check "$label: $name: not runAsNonRoot" grep -qE '^ *runAsNonRoot: true$' "$doc"
    check "$label: $name: not uid 10001" grep -qE '^ *runAsUser: 10001$' "$doc"
    check "$label: $name: root filesystem writable" grep -qE '^ *readOnlyRootFilesystem: true$' "$doc"
    check "$label: $name: privilege escalation allowed" grep -qE '^ *allowPrivilegeEscalation: false$' "$doc"
    check "$label: $name: capabilities not dropped" near "$doc" '^ *drop:$' '^ *- ALL$' 1
    check "$label: $name: no writable /tmp" grep -qE '^ *mountPath: /tmp$' "$doc"
    check "$label: $name: secret key not mounted read-only" \
      near "$doc" '^ *mountPath: /etc/hindsight/secret-key$' '^ *readOnly: true$' 1
    case $name in
      *-web)
        check "$label: $name: command" test "$(container_args "$doc")" = "node web/main.ts"
        check "$label: $name: HINDSIGHT_WEB_HOST is not 0.0.0.0" test "$(env_value "$doc" HINDSIGHT_WEB_HOST)" = 0.0.0.0
        check "$label: $name: HINDSIGHT_WEB_PORT is not 3000" test "$(env_value "$doc" HINDSIGHT_WEB_PORT)" = 3000
        check "$label: $name: container port is not 3000" grep -qE '^ *containerPort: 3000$' "$doc"
        for probe in readinessProbe livenessProbe startupProbe; do
          check "$label: $name: $probe is not GET /healthz" near "$doc" "^ *$probe:\$" '^ *path: /healthz$' 2
        done
        ;;
      *-worker)
        check "$label: $name: command" test "$(container_args "$doc")" = "node worker/main.ts --role main"
        ;;
      *-agent-*)
        local args root
        args=$(container_args "$doc")
        check "$label: $name: not a verify worker ($args)" starts_with "$args" "node worker/main.ts --role verify "
        for flag in --max-cpu --max-ram-mb --max-disk-gb; do
          check "$label: $name: $flag missing or not a number ($args)" has_flag "$args" "$flag"
        done
        root=$(env_value "$doc" HINDSIGHT_SANDBOX_ROOT)
        check "$label: $name: HINDSIGHT_SANDBOX_ROOT not set" test -n "$root"
        check "$label: $name: HINDSIGHT_SANDBOX_ROOT ($root) is not the sandbox volume" \
          after "$doc" "^ *mountPath: $root\$" '^ *- name: sandboxes$'
        check "$label: $name: no sandbox volume" near "$doc" '^ *- name: sandboxes$' '^ *(emptyDir|ephemeral):$' 2
        ;;
      *) fail "$label: unexpected Deployment $name" ;;
    esac
  done
  check "$label: no Deployment rendered" test "$deployments" -gt 0
  check "$label: HINDSIGHT_SECRET_KEY_FILE is not in the secret key mount" \
    grep -qE '^  HINDSIGHT_SECRET_KEY_FILE: "/etc/hindsight/secret-key/' "$dir"/*.yaml
}

# A field of a named Deployment, as "key: value" on one line somewhere in it.
has_line() { grep -qE "^ *$2\$" "$1"; }
doc_of() { # doc_of DIR NAME [KIND]: the file of the document of that kind (default Deployment) and name
  local doc kind=${3:-Deployment}
  for doc in "$1"/*.yaml; do
    [[ $(doc_kind "$doc") == "$kind" && $(doc_name "$doc") == "$2" ]] && { echo "$doc"; return; }
  done
  echo "/nonexistent/$kind/$2"
}
grace_of() { awk '/terminationGracePeriodSeconds:/ { print $2; exit }' "$1"; }

# ---------------------------------------------------------------------------------------------

echo "helm: $helm ($("$helm" version --short 2>/dev/null || echo unknown)); Kubernetes $kube_version"

echo "== helm lint"
"$helm" lint "$chart" --kube-version "$kube_version"
"$helm" lint --strict "$chart" --kube-version "$kube_version"
"$helm" lint --strict "$chart" --kube-version "$kube_version" -f "$full_values"
ok

echo "== helm template"
"$helm" template hs "$chart" --namespace backups --kube-version "$kube_version" > "$work/default.yaml"
"$helm" template hs "$chart" --namespace backups --kube-version "$kube_version" -f "$full_values" > "$work/full.yaml"
"$helm" template hs "$chart" --namespace backups --kube-version "$kube_version" --set podAntiAffinity.mode=hard > "$work/hard.yaml"
ok
for name in default full hard; do
  split_docs "$work/$name.yaml" "$work/$name"
  echo "$name: $(grep -c '^kind:' "$work/$name.yaml") manifests"
done

echo "== checks on every rendering"
check_common default "$work/default"
check_common full "$work/full"
check_common hard "$work/hard"

echo "== default values"
d="$work/default"
check "default: the agent command" test "$(container_args "$(doc_of "$d" hs-hindsight-agent-default)")" = \
  "node worker/main.ts --role verify --max-cpu 2 --max-ram-mb 2048 --max-disk-gb 20"
check "default: worker grace period is not 60" test "$(grace_of "$(doc_of "$d" hs-hindsight-worker)")" = 60
check "default: agent grace period is not 60" test "$(grace_of "$(doc_of "$d" hs-hindsight-agent-default)")" = 60
check "default: resources not derived from the budget (cpu 2000m)" has_line "$(doc_of "$d" hs-hindsight-agent-default)" "cpu: 2000m"
check "default: resources not derived from the budget (memory 2048 + 512)" has_line "$(doc_of "$d" hs-hindsight-agent-default)" "memory: 2560Mi"
check "default: sandbox emptyDir not sized from the budget (20 + 2 GB)" has_line "$(doc_of "$d" hs-hindsight-agent-default)" "sizeLimit: 22G"
check "default: an Ingress was rendered" absent "$work/default.yaml" '^kind: Ingress'
check "default: TLS variables set" absent "$work/default.yaml" 'TEMPORAL_TLS_'
check "default: codec token set" absent "$work/default.yaml" 'HINDSIGHT_CODEC_'
check "default: previous keys set" absent "$work/default.yaml" 'HINDSIGHT_PREVIOUS_SECRET_KEY_FILES'
check "default: no ServiceAccount" grep -q '^kind: ServiceAccount' "$work/default.yaml"
check "default: metrics token set" absent "$work/default.yaml" 'HINDSIGHT_METRICS_TOKEN'
# Without a metrics token the worker would refuse to serve /metrics beyond loopback: none is rendered.
check "default: worker metrics port without a token" absent "$(doc_of "$d" hs-hindsight-worker)" 'HINDSIGHT_WORKER_METRICS_PORT'
check "default: worker metrics container port without a token" absent "$(doc_of "$d" hs-hindsight-worker)" "containerPort: 9464"
check "default: agent metrics port without a token" absent "$(doc_of "$d" hs-hindsight-agent-default)" 'HINDSIGHT_WORKER_METRICS_PORT'
check "default: web has a worker metrics port" absent "$(doc_of "$d" hs-hindsight-web)" 'HINDSIGHT_WORKER_METRICS_PORT'

echo "== ci/full-values.yaml"
f="$work/full"
check "full: agent small command" test "$(container_args "$(doc_of "$f" hs-backups-agent-small)")" = \
  "node worker/main.ts --role verify --max-cpu 1.5 --max-ram-mb 3072 --max-disk-gb 40 --max-concurrent-jobs 2"
check "full: agent large command" test "$(container_args "$(doc_of "$f" hs-backups-agent-large)")" = \
  "node worker/main.ts --role verify --max-cpu 8 --max-ram-mb 32768 --max-disk-gb 1500"
check "full: agent defaults-only command" test "$(container_args "$(doc_of "$f" hs-backups-agent-defaults-only)")" = \
  "node worker/main.ts --role verify --max-cpu 2 --max-ram-mb 4096 --max-disk-gb 50"
check "full: agent small: derived cpu request 1500m" has_line "$(doc_of "$f" hs-backups-agent-small)" "cpu: 1500m"
check "full: agent small: derived cpu limit 2000m" has_line "$(doc_of "$f" hs-backups-agent-small)" "cpu: 2000m"
check "full: agent small: derived memory 3072 + 768" has_line "$(doc_of "$f" hs-backups-agent-small)" "memory: 3840Mi"
check "full: agent small: explicit sandbox size" has_line "$(doc_of "$f" hs-backups-agent-small)" "sizeLimit: 45G"
check "full: agent small: replicas 2" has_line "$(doc_of "$f" hs-backups-agent-small)" "replicas: 2"
check "full: agent large: replicas 0 kept" has_line "$(doc_of "$f" hs-backups-agent-large)" "replicas: 0"
check "full: agent large: explicit resources" has_line "$(doc_of "$f" hs-backups-agent-large)" "memory: 34Gi"
check "full: agent large: claim per pod" has_line "$(doc_of "$f" hs-backups-agent-large)" "ephemeral:"
check "full: agent large: claim size 1500 + 5 GB" has_line "$(doc_of "$f" hs-backups-agent-large)" "storage: 1505G"
check "full: agent large: storage class" has_line "$(doc_of "$f" hs-backups-agent-large)" 'storageClassName: "fast-ssd"'
check "full: agent large: /dev/shm volume though shmSizeLimit is empty" \
  absent "$(doc_of "$f" hs-backups-agent-large)" 'mountPath: /dev/shm'
check "full: agent large: sandbox driver" test "$(env_value "$(doc_of "$f" hs-backups-agent-large)" HINDSIGHT_SANDBOX_DRIVER)" = auto
check "full: agent large: grace period 300" test "$(grace_of "$(doc_of "$f" hs-backups-agent-large)")" = 300
check "full: agent defaults-only: sandbox 50 + 5 GB" has_line "$(doc_of "$f" hs-backups-agent-defaults-only)" "sizeLimit: 55G"
check "full: agent defaults-only: /dev/shm 512Mi" has_line "$(doc_of "$f" hs-backups-agent-defaults-only)" "sizeLimit: 512Mi"
check "full: worker grace period 120" test "$(grace_of "$(doc_of "$f" hs-backups-worker)")" = 120
check "full: web codec token file" test "$(env_value "$(doc_of "$f" hs-backups-web)" HINDSIGHT_CODEC_TOKEN_FILE)" = /etc/hindsight/codec/token
check "full: codec token only in the web pod" test "$(grep -l HINDSIGHT_CODEC_TOKEN_FILE "$f"/*.yaml | wc -l)" = 1
check "full: metrics token from its Secret in the web pod" grep -A4 -E '^ *- name: HINDSIGHT_METRICS_TOKEN$' "$(doc_of "$f" hs-backups-web)" | grep -q 'name: hindsight-metrics-token'
check "full: metrics token in the worker pod" grep -q 'name: HINDSIGHT_METRICS_TOKEN' "$(doc_of "$f" hs-backups-worker)"
check "full: worker metrics port 9465" test "$(env_value "$(doc_of "$f" hs-backups-worker)" HINDSIGHT_WORKER_METRICS_PORT)" = 9465
for key in TEMPORAL_TLS_CERT_FILE TEMPORAL_TLS_KEY_FILE TEMPORAL_TLS_CA_FILE TEMPORAL_TLS_SERVER_NAME \
  HINDSIGHT_PREVIOUS_SECRET_KEY_FILES HINDSIGHT_CODEC_CORS_ORIGIN HINDSIGHT_TEMPORAL_UI_URL \
  HINDSIGHT_TEMPORAL_UI_UPSTREAM; do
  check "full: ConfigMap lacks $key" grep -qE "^  $key: " "$(doc_of "$f" hs-backups-config ConfigMap)"
done
check "full: previous keys are comma-separated files in their mount" grep -qF \
  'HINDSIGHT_PREVIOUS_SECRET_KEY_FILES: "/etc/hindsight/previous-keys/previous-0.key,/etc/hindsight/previous-keys/previous-1.key"' \
  "$(doc_of "$f" hs-backups-config ConfigMap)"
check "full: Temporal TLS files not mounted" has_line "$(doc_of "$f" hs-backups-worker)" "mountPath: /etc/hindsight/temporal-tls"
check "full: no Ingress" grep -q '^kind: Ingress' "$work/full.yaml"
check "full: soft anti-affinity missing" grep -q preferredDuringSchedulingIgnoredDuringExecution "$(doc_of "$f" hs-backups-worker)"
check "full: the agent's own affinity does not replace anti-affinity" \
  absent "$(doc_of "$f" hs-backups-agent-large)" podAntiAffinity
check "full: ServiceAccount name" has_line "$(doc_of "$f" hindsight-runner ServiceAccount)" "automountServiceAccountToken: false"
np="$(doc_of "$f" hs-backups-temporal-frontend NetworkPolicy)"
check "full: Temporal frontend NetworkPolicy not in Temporal's namespace" has_line "$np" "namespace: temporal-system"
check "full: NetworkPolicy does not select the frontend" near "$np" '^  podSelector:$' '^ *app.kubernetes.io/component: frontend$' 4
check "full: NetworkPolicy does not admit this release's pods from its namespace" \
  near "$np" '^ *- namespaceSelector:$' '^ *kubernetes.io/metadata.name: backups$' 2
check "full: NetworkPolicy admits more than the release's pods (selector)" near "$np" '^ *podSelector:$' '^ *app.kubernetes.io/instance: hs$' 3
check "full: NetworkPolicy gRPC port" has_line "$np" "port: 7233"
check "full: NetworkPolicy extraFrom" grep -q 'kubernetes.io/metadata.name: ops-toolbox' "$np"
check "full: the release's pods are not the ones the NetworkPolicy admits" \
  grep -q 'app.kubernetes.io/instance: hs' "$(doc_of "$f" hs-backups-worker)"
check "default: a NetworkPolicy was rendered though it is off" absent "$work/default.yaml" '^kind: NetworkPolicy'
check "hard: required anti-affinity missing" grep -q requiredDuringSchedulingIgnoredDuringExecution "$(doc_of "$work/hard" hs-hindsight-worker)"

echo "== values that must be refused"
refused() { # refused DESCRIPTION HELM-ARGS...: helm template must fail
  local what=$1; shift
  if "$helm" template hs "$chart" --kube-version "$kube_version" "$@" >/dev/null 2>"$work/refused.err"; then
    fail "accepted: $what"
  else
    # The schema's own reason ("- at '/web': …") when there is one, else helm's error line.
    ok; echo "refused as expected: $what: $( (grep -m1 -E "^- at '" "$work/refused.err" || grep -m1 -E '^Error' "$work/refused.err") | cut -c1-200)"
  fi
}
refused "TLS on with nothing to turn it on" --set temporal.tls.enabled=true
refused "two agents with one name" --set 'verificationAgents[0].name=a' --set 'verificationAgents[1].name=a'
refused "a budget under one sandbox" --set verificationDefaults.budget.maxRamMb=100
refused "a fractional --max-ram-mb" --set-json 'verificationAgents=[{"name":"x","budget":{"maxRamMb":1024.5}}]'
refused "no catalog Secret" --set database.existingSecret=
refused "no secret key Secret" --set secretKey.existingSecret=
refused "an unknown sandbox volume type" --set verificationDefaults.sandbox.type=hostPath
refused "an unknown setting (typo)" --set web.replica=2
refused "a Temporal address without a port" --set temporal.address=temporal.example.com
refused "a NetworkPolicy namespace that is not a DNS label" --set temporal.networkPolicy.enabled=true --set temporal.networkPolicy.namespace=Temporal_NS

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
