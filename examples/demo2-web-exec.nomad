# Demo 2 without containers: the same service from `python3 -m http.server`
# through the raw_exec driver. Use it in place of demo2-web.nomad.
#
#   nomadtui job run examples/demo2-web-exec.nomad
#   nomadtui job run examples/demo2-lb.nomad
#   curl http://127.0.0.1:9999/
#
# http.server lists a directory that has no index.html, so the check asks
# for the page itself: delete it and the instance turns critical.
job "demo2-web-exec" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "2s"
    healthy_deadline = "1m"
  }

  group "demo" {
    count = 3

    network {
      port "http" {}
    }

    task "bootcamp" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"hello from $NOMAD_ALLOC_ID\" > \"$NOMAD_TASK_DIR/index.html\"; exec python3 -m http.server \"$NOMAD_PORT_http\" --bind \"$NOMAD_IP_http\" --directory \"$NOMAD_TASK_DIR\""]
      }

      service {
        name     = "bootcamp-demo"
        tags     = ["urlprefix-/"]
        port     = "http"
        provider = "nomad"

        check {
          type     = "http"
          path     = "/index.html"
          interval = "2s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
