# A parameterized batch job: nothing runs until it is dispatched. Each
# dispatch creates a child `dispatch-greeter/dispatch-<unix>-<8 hex>` whose
# task finds the payload in local/input.txt and the metadata in NOMAD_META_*.
#
#   nomadtui job run examples/dispatch.nomad
#   echo "hello" | nomadtui job dispatch -meta name=world dispatch-greeter -
#   nomadtui job status dispatch-greeter        # Dispatched Jobs
#   nomadtui alloc logs -job <dispatched job id>
job "dispatch-greeter" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["name"]
    meta_optional = ["greeting"]
  }

  meta {
    greeting = "hi"
  }

  group "greet" {
    task "greet" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"${NOMAD_META_greeting} ${NOMAD_META_name}\"; cat \"${NOMAD_TASK_DIR}/input.txt\""]
      }

      dispatch_payload {
        file = "input.txt"
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
