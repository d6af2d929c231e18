{{- /* Shared labels. Pod templates and selectors carry only the stable app.kubernetes.io labels,
       the same as deploy/base, so kustomize and Helm installs select the same pods. */ -}}
{{- define "nodemesh.labels" -}}
app.kubernetes.io/part-of: nodemesh
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "nodemesh.image" -}}
{{ printf "%s:%s" .Values.image.repository (toString .Values.image.tag) }}
{{- end }}
