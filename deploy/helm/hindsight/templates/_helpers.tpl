{{/*
Names. Kubernetes names are DNS labels: at most 63 characters, so everything is cut there.
*/}}
{{- define "hindsight.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hindsight.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hindsight.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hindsight.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hindsight.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hindsight.configMapName" -}}
{{- printf "%s-config" (include "hindsight.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels. The selector labels never change after the first install (a Deployment's selector is
immutable), so the version and chart labels stay out of them.
*/}}
{{- define "hindsight.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hindsight.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hindsight.labels" -}}
helm.sh/chart: {{ include "hindsight.chart" . }}
{{ include "hindsight.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hindsight
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "hindsight.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Fixed paths inside the containers. The sandbox root is short on purpose: a sandbox server's unix
socket lives in it and sun_path holds only 107 bytes.
*/}}
{{- define "hindsight.dataDir" -}}/var/lib/hindsight{{- end -}}
{{- define "hindsight.sandboxRoot" -}}/var/lib/hindsight-sandboxes{{- end -}}
{{- define "hindsight.secretKeyDir" -}}/etc/hindsight/secret-key{{- end -}}
{{- define "hindsight.previousKeysDir" -}}/etc/hindsight/previous-keys{{- end -}}
{{- define "hindsight.temporalTlsDir" -}}/etc/hindsight/temporal-tls{{- end -}}
{{- define "hindsight.codecDir" -}}/etc/hindsight/codec{{- end -}}

{{/*
Checks that cannot be said in values.schema.json, because they relate several values.
*/}}
{{- define "hindsight.validate" -}}
{{- $tls := .Values.temporal.tls -}}
{{- if $tls.enabled -}}
{{- if not (or $tls.clientCert.existingSecret $tls.ca.existingSecret $tls.serverName) -}}
{{- fail "temporal.tls.enabled needs at least one of temporal.tls.clientCert.existingSecret, temporal.tls.ca.existingSecret or temporal.tls.serverName (Hindsight turns TLS on from the files and the server name it is given)" -}}
{{- end -}}
{{- end -}}
{{- $seen := dict -}}
{{- range .Values.verificationAgents -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "verificationAgents: the name %q is used twice; each agent needs its own name" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- end -}}

{{/*
Pod anti-affinity for one component: spread its replicas over nodes (soft) or require it (hard).
An explicit affinity of the component wins. Call with (dict "root" $ "component" "web" "affinity" .Values.web.affinity).
*/}}
{{- define "hindsight.affinity" -}}
{{- $root := .root -}}
{{- $anti := $root.Values.podAntiAffinity -}}
{{- if .affinity -}}
{{ toYaml .affinity }}
{{- else if eq $anti.mode "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: {{ $anti.topologyKey }}
        labelSelector:
          matchLabels:
            {{- include "hindsight.selectorLabels" $root | nindent 12 }}
            app.kubernetes.io/component: {{ .component }}
{{- else if eq $anti.mode "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: {{ $anti.topologyKey }}
      labelSelector:
        matchLabels:
          {{- include "hindsight.selectorLabels" $root | nindent 10 }}
          app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- end -}}

{{/*
Environment shared by every Hindsight container: the ConfigMap, the catalog's URL from its
Secret, and the metrics token from its Secret when one is named. Nothing else is set here; lib/config.ts lists what Hindsight reads.
*/}}
{{- define "hindsight.commonEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "hindsight.configMapName" . }}
env:
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.database.existingSecret }}
        key: {{ .Values.database.key }}
  {{- with .Values.metrics.token.existingSecret }}
  - name: HINDSIGHT_METRICS_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ . }}
        key: {{ $.Values.metrics.token.key }}
  {{- end }}
{{- end -}}

{{/*
Volumes every Hindsight pod has: a writable /tmp (the root filesystem is read-only; temporary
files go there), the data directory, the secret key, earlier keys and Temporal's TLS files.
*/}}
{{- define "hindsight.commonVolumes" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
- name: data
  {{- if .Values.dataVolume.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.dataVolume.existingClaim }}
  {{- else }}
  emptyDir:
    {{- with .Values.dataVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
  {{- end }}
- name: secret-key
  secret:
    secretName: {{ .Values.secretKey.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.secretKey.key }}
        path: secret.key
{{- with .Values.secretKey.previous }}
- name: previous-keys
  projected:
    defaultMode: 0440
    sources:
      {{- range $i, $key := . }}
      - secret:
          name: {{ $key.existingSecret }}
          items:
            - key: {{ get $key "key" | default "secret.key" }}
              path: {{ printf "previous-%d.key" $i }}
      {{- end }}
{{- end }}
{{- $tls := .Values.temporal.tls }}
{{- if and $tls.enabled (or $tls.clientCert.existingSecret $tls.ca.existingSecret) }}
- name: temporal-tls
  projected:
    defaultMode: 0440
    sources:
      {{- with $tls.clientCert.existingSecret }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $tls.clientCert.certKey }}
              path: client.crt
            - key: {{ $tls.clientCert.keyKey }}
              path: client.key
      {{- end }}
      {{- with $tls.ca.existingSecret }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $tls.ca.key }}
              path: ca.crt
      {{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "hindsight.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ include "hindsight.dataDir" . }}
- name: secret-key
  mountPath: {{ include "hindsight.secretKeyDir" . }}
  readOnly: true
{{- if .Values.secretKey.previous }}
- name: previous-keys
  mountPath: {{ include "hindsight.previousKeysDir" . }}
  readOnly: true
{{- end }}
{{- $tls := .Values.temporal.tls }}
{{- if and $tls.enabled (or $tls.clientCert.existingSecret $tls.ca.existingSecret) }}
- name: temporal-tls
  mountPath: {{ include "hindsight.temporalTlsDir" . }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The parts of a pod spec that are the same for every component.
*/}}
{{- define "hindsight.podCommon" -}}
serviceAccountName: {{ include "hindsight.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- /* Service links would put variables such as HINDSIGHT_WEB_PORT=tcp://… (from a Service named
hindsight-web) into every pod, and Hindsight reads that name as its own port setting. */}}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/*
Pod template annotations: a change of the ConfigMap rolls every pod, since environment variables
are read only at start.
*/}}
{{- define "hindsight.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
A quantity printed as Kubernetes reads it: whole numbers without a decimal point, because Helm
hands YAML numbers over as floats and would print 1e+06 for a large one.
*/}}
{{- define "hindsight.number" -}}
{{- $n := float64 . -}}
{{- if eq $n (float64 (int64 $n)) -}}
{{- int64 $n -}}
{{- else -}}
{{- $n -}}
{{- end -}}
{{- end -}}

{{/*
Gigabytes (10^9 bytes, as --max-disk-gb counts them) as a quantity: whole ones as G, else M.
*/}}
{{- define "hindsight.gigabytes" -}}
{{- $mb := round (mulf (float64 .) 1000) 0 | int64 -}}
{{- if eq (mod $mb 1000) 0 -}}
{{- printf "%dG" (div $mb 1000) -}}
{{- else -}}
{{- printf "%dM" $mb -}}
{{- end -}}
{{- end -}}

{{/*
A verification agent with verificationDefaults filled in. Call with (dict "root" $ "agent" .) and
read the result with fromYaml. budget, sandbox and overhead are merged key by key; every other
field, resources included, is taken whole from the agent when it has it. A plain deep merge would
not do: it ignores an explicit 0, false or "" (replicas: 0, shmSizeLimit: "").
*/}}
{{- define "hindsight.agent" -}}
{{- $agent := deepCopy .root.Values.verificationDefaults -}}
{{- range $field, $value := .agent -}}
{{- if and (has $field (list "budget" "sandbox" "overhead")) (kindIs "map" $value) (kindIs "map" (get $agent $field)) -}}
{{- $merged := get $agent $field -}}
{{- range $k, $v := $value -}}
{{- $_ := set $merged $k $v -}}
{{- end -}}
{{- else -}}
{{- $_ := set $agent $field $value -}}
{{- end -}}
{{- end -}}
{{- $diskGb := addf $agent.budget.maxDiskGb $agent.overhead.diskGb -}}
{{- $_ := set $agent "sandboxSize" (default (include "hindsight.gigabytes" $diskGb) $agent.sandbox.size) -}}
{{- if not $agent.resources -}}
{{- /* The budget bounds the sandboxes; the overhead is the worker process itself. */ -}}
{{- $cpuRequest := round (mulf $agent.budget.maxCpu 1000) 0 | int64 -}}
{{- $cpuLimit := round (mulf (addf $agent.budget.maxCpu $agent.overhead.cpu) 1000) 0 | int64 -}}
{{- $memory := printf "%dMi" (add (int64 $agent.budget.maxRamMb) (int64 $agent.overhead.memoryMb)) -}}
{{- $requests := dict "cpu" (printf "%dm" $cpuRequest) "memory" $memory -}}
{{- if eq $agent.sandbox.type "emptyDir" -}}
{{- $_ := set $requests "ephemeral-storage" $agent.sandboxSize -}}
{{- end -}}
{{- $_ := set $agent "resources" (dict "requests" $requests "limits" (dict "cpu" (printf "%dm" $cpuLimit) "memory" $memory)) -}}
{{- end -}}
{{- toYaml $agent -}}
{{- end -}}

{{/*
The worker's own /metrics (HINDSIGHT_WORKER_METRICS_PORT) on every interface of the pod, and its
container port; nothing when metrics.workerPort is 0 or no metrics token is configured (the worker
refuses to serve metrics beyond loopback without one). Call after commonEnv, inside its env list.
*/}}
{{- define "hindsight.workerMetricsEnv" -}}
{{- if and .Values.metrics.workerPort .Values.metrics.token.existingSecret }}
- name: HINDSIGHT_WORKER_METRICS_PORT
  value: {{ .Values.metrics.workerPort | quote }}
# The worker serves no console: this only opens its metrics port to the pod network.
- name: HINDSIGHT_WEB_HOST
  value: "0.0.0.0"
{{- end }}
{{- end -}}

{{- define "hindsight.workerMetricsPort" -}}
{{- if and .Values.metrics.workerPort .Values.metrics.token.existingSecret }}
ports:
  - name: metrics
    containerPort: {{ .Values.metrics.workerPort }}
    protocol: TCP
{{- end }}
{{- end -}}
