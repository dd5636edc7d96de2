{{/*
Chart name.
*/}}
{{- define "sochdb-grpc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Full name, at most 52 characters: a StatefulSet's controller-revision-hash label adds 11, and the
headless Service adds "-headless".
*/}}
{{- define "sochdb-grpc.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sochdb-grpc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sochdb-grpc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sochdb-grpc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sochdb-grpc.labels" -}}
helm.sh/chart: {{ include "sochdb-grpc.chart" . }}
{{ include "sochdb-grpc.selectorLabels" . }}
app.kubernetes.io/component: server
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sochdb-grpc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sochdb-grpc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sochdb-grpc.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Fixed paths inside the pod. */}}
{{- define "sochdb-grpc.dataDir" -}}/var/lib/sochdb{{- end }}
{{- define "sochdb-grpc.configPath" -}}/etc/sochdb/sochdb.toml{{- end }}
{{- define "sochdb-grpc.keysDir" -}}/etc/sochdb/keys{{- end }}
{{- define "sochdb-grpc.tlsDir" -}}/etc/sochdb/tls{{- end }}

{{/*
The Secret holding the API key file ("" when authentication is off).
*/}}
{{- define "sochdb-grpc.keysSecret" -}}
{{- if .Values.auth.keys }}
{{- printf "%s-api-keys" (include "sochdb-grpc.fullname" .) }}
{{- else if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- end }}
{{- end }}

{{- define "sochdb-grpc.keysSecretKey" -}}
{{- if .Values.auth.keys }}keys{{ else }}{{ default "keys" .Values.auth.existingSecretKey }}{{ end }}
{{- end }}

{{- define "sochdb-grpc.grpcPort" -}}
{{- index .Values.config "port" | int }}
{{- end }}

{{/* "0" when the metrics endpoint is off. */}}
{{- define "sochdb-grpc.metricsPort" -}}
{{- if hasKey .Values.config "metrics-port" }}
{{- index .Values.config "metrics-port" | int }}
{{- else }}9090{{- end }}
{{- end }}

{{/*
Checks that fail the render with an explanation instead of a pod that crash-loops.
*/}}
{{- define "sochdb-grpc.validate" -}}
{{- range $key := list "data-dir" "auth-keys" "tls-cert" "tls-key" "tls-ca" }}
{{- if hasKey $.Values.config $key }}
{{- fail (printf "config.%s is set by the chart (data-dir: the persistent volume; auth-keys: auth.*; tls-*: tls.*): remove it from config" $key) }}
{{- end }}
{{- end }}
{{- $port := index .Values.config "port" | int }}
{{- if or (lt $port 1) (gt $port 65535) }}
{{- fail "config.port must be a fixed port (1..65535): Services and probes point at it" }}
{{- end }}
{{- if not (index .Values.config "host") }}
{{- fail "config.host is required: 0.0.0.0 (or :: on IPv6-only clusters)" }}
{{- end }}
{{- $host := toString (index .Values.config "host") }}
{{- if or (eq $host "localhost") (eq $host "::1") (eq $host "[::1]") (hasPrefix "127." $host) }}
{{- fail (printf "config.host %s is loopback: the kubelet and Services reach the pod on its IP; use 0.0.0.0 (or :: on IPv6-only clusters)" $host) }}
{{- end }}
{{- if and (not (include "sochdb-grpc.keysSecret" .)) (not (index .Values.config "allow-insecure-remote")) }}
{{- fail "no API keys: set auth.existingSecret (a Secret made from a sochdb-keytool key file) or auth.keys. For a throw-away development install without authentication only: config.allow-insecure-remote=true" }}
{{- end }}
{{- $grace := 10 }}
{{- if hasKey .Values.config "shutdown-grace-s" }}
{{- $grace = index .Values.config "shutdown-grace-s" | int }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) $grace }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed config.shutdown-grace-s (%d), or the pod is killed before the database is closed" (int .Values.terminationGracePeriodSeconds) $grace) }}
{{- end }}
{{- end }}

{{/*
One TOML value: strings quoted (JSON string escapes are valid TOML), booleans as is, numbers as
whole numbers (values.yaml numbers arrive as float64; printing them directly would turn 3600000
into 3.6e+06).
*/}}
{{- define "sochdb-grpc.tomlValue" -}}
{{- if kindIs "string" . }}
{{- toJson . }}
{{- else if kindIs "bool" . }}
{{- ternary "true" "false" . }}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) (kindIs "int" .) (kindIs "int64" .) (kindIs "int32" .) }}
{{- int64 . }}
{{- else }}
{{- fail (printf "config: %v is not a string, boolean or number" .) }}
{{- end }}
{{- end }}

{{/*
sochdb.toml: values.config plus the chart-managed paths, keys sorted.
*/}}
{{- define "sochdb-grpc.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg "data-dir" (include "sochdb-grpc.dataDir" .) }}
{{- if include "sochdb-grpc.keysSecret" . }}
{{- $_ := set $cfg "auth-keys" (printf "%s/%s" (include "sochdb-grpc.keysDir" .) (include "sochdb-grpc.keysSecretKey" .)) }}
{{- end }}
{{- if .Values.tls.existingSecret }}
{{- $_ := set $cfg "tls-cert" (printf "%s/tls.crt" (include "sochdb-grpc.tlsDir" .)) }}
{{- $_ := set $cfg "tls-key" (printf "%s/tls.key" (include "sochdb-grpc.tlsDir" .)) }}
{{- if .Values.tls.requireClientCert }}
{{- $_ := set $cfg "tls-ca" (printf "%s/ca.crt" (include "sochdb-grpc.tlsDir" .)) }}
{{- end }}
{{- end -}}
# Rendered by the sochdb-grpc Helm chart from values.config; keys as in config/sochdb.toml.
{{- range $key, $value := $cfg }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
{{ $key }} = {{ include "sochdb-grpc.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Probe handler: native gRPC health (plaintext). With TLS in the server the kubelet cannot speak
gRPC to it, so a TCP check of the port is the fallback.
*/}}
{{- define "sochdb-grpc.probeHandler" -}}
{{- if .Values.tls.existingSecret -}}
tcpSocket:
  port: grpc
{{- else -}}
grpc:
  port: {{ include "sochdb-grpc.grpcPort" . }}
{{- end }}
{{- end }}
