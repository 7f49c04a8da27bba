# Demo 1 without containers: a plain process through the raw_exec driver.
#
#   nomadtui job run examples/demo1-exec.nomad
#   nomadtui alloc logs <alloc-id> ticker
job "demo1-exec" {
  datacenters = ["dc1"]
  type        = "service"

  group "ticker" {
    count = 1

    task "ticker" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"started ${NOMAD_ALLOC_NAME} on ${attr.unique.hostname}\"; while true; do date; sleep 5; done"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
