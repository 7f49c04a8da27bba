# Demo 2: three instances of a web service, registered in the service
# catalog as "bootcamp-demo" with the tag the load balancer routes on.
#
#   nomadtui job run examples/demo2-web.nomad
#   nomadtui service info bootcamp-demo
#   nomadtui job run examples/demo2-lb.nomad
#   curl http://127.0.0.1:9999/      (a different instance each time)
#
# Each instance writes a page naming its allocation into its task dir
# (/local in the container) and serves it with busybox httpd. The image is
# built locally by scripts/test-deps.sh (no registry needed).
job "demo2-web" {
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
      port "http" {
        to = 8080
      }
    }

    task "bootcamp" {
      driver = "docker"

      config {
        image   = "nomadtui-test/busybox:1"
        command = "/bin/sh"
        args    = ["-c", "echo \"hello from $NOMAD_ALLOC_ID\" > /local/index.html; exec httpd -f -p 8080 -h /local"]
        ports   = ["http"]
      }

      service {
        name     = "bootcamp-demo"
        tags     = ["urlprefix-/"]
        port     = "http"
        provider = "nomad"

        check {
          type     = "http"
          path     = "/"
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
