# Demo 2: the load balancer, on every client (a system job), in place of
# Fabio: `nomadtui lb` routes to the catalog's `urlprefix-` services.
#
#   nomadtui job run examples/demo2-lb.nomad
#   curl http://127.0.0.1:9999/          the proxy
#   open http://127.0.0.1:9998/          routes, instances, health, hits
#
# It runs this installation's `nomadtui` (node attribute nomadtui.bin) and
# reaches the API at the client's own agent. Other ports: change the
# variable defaults below.
variable "proxy_port" {
  type    = number
  default = 9999
}

variable "ui_port" {
  type    = number
  default = 9998
}

job "demo2-lb" {
  datacenters = ["dc1"]
  type        = "system"

  group "lb" {
    network {
      port "lb" {
        static = var.proxy_port
      }
      port "ui" {
        static = var.ui_port
      }
    }

    task "lb" {
      driver = "raw_exec"

      config {
        command = "${attr.nomadtui.bin}"
        args = [
          "lb",
          "-address", "http://${attr.unique.advertise.address}",
          "-proxy-addr", "${NOMAD_ADDR_lb}",
          "-ui-addr", "${NOMAD_ADDR_ui}",
        ]
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
