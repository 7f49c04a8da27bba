# Demo 1: a web server in a container, on a dynamic host port.
#
#   nomadtui job run examples/demo1-web.nomad
#   nomadtui status demo1-web
#   curl http://127.0.0.1:<port>/      (port: `nomadtui alloc status <alloc>`)
#
# The image is built locally by scripts/test-deps.sh (no registry needed).
job "demo1-web" {
  datacenters = ["dc1"]
  type        = "service"

  group "web" {
    count = 1

    network {
      port "http" {
        to = 8080
      }
    }

    task "web" {
      driver = "docker"

      config {
        image   = "nomadtui-test/busybox:1"
        command = "/bin/sh"
        args    = ["-c", "echo \"serving $NOMAD_ALLOC_NAME on $NOMAD_ADDR_http\"; exec httpd -f -v -p 8080 -h /www"]
        ports   = ["http"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
