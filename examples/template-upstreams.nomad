# Templates: a frontend renders its backends from the native service catalog
# into a file and its environment, and restarts when the backends change.
#
#   nomadtui job run examples/template-upstreams.nomad
#   nomadtui alloc logs -job template-upstreams frontend   # prints local/upstreams.conf
#   then raise the backend count to 2 and run again: the frontend's task
#   events show "Restart Signaled: Template with change_mode restart re-rendered"
#   and its log a start with BACKENDS=2.
#
# Supported in templates: Go text/template (if/else/range/with, variables,
# pipelines, {{- -}} trimming, comments), env, nomadService(s), nomadVar,
# nomadVarList, and consul-template's helpers (toJSON, toUpper, split, join,
# base64Decode, ...). Consul (key, service) and Vault (secret) functions are
# refused with a message naming the function.
job "template-upstreams" {
  datacenters = ["dc1"]

  group "backend" {
    count = 1

    network {
      port "http" {}
    }

    service {
      name     = "template-backend"
      port     = "http"
      provider = "nomad"
    }

    task "backend" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 3600"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }

  group "frontend" {
    task "frontend" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"start BACKENDS=$BACKENDS\"; cat local/upstreams.conf; exec sleep 3600"]
      }

      template {
        destination = "local/upstreams.conf"
        change_mode = "restart"
        splay       = "0s"
        data        = <<-EOF
          # rendered for {{ env "NOMAD_ALLOC_ID" }}
          upstream backend {
          {{- range nomadService "template-backend" }}
            server {{ .Address }}:{{ .Port }};
          {{- else }}
            server 127.0.0.1:65535; # no backend yet
          {{- end }}
          }
        EOF
      }

      template {
        destination = "secrets/backends.env"
        env         = true
        change_mode = "noop"
        data        = <<-EOF
          BACKENDS={{ len (nomadService "template-backend") }}
        EOF
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
