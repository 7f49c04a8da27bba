# A task whose file comes from a Nomad variable, re-rendered (and the task
# restarted) whenever the variable changes:
#
#   nomadtui var put nomad/jobs/var-greeter greeting=hello
#   nomadtui job run examples/variables.nomad
#   nomadtui alloc logs -job var-greeter greeter      # greeting=hello
#   nomadtui var put nomad/jobs/var-greeter greeting=bonjour
#   nomadtui alloc logs -job var-greeter greeter      # ... greeting=bonjour
#
# With ACLs on, the client reads nomad/jobs/<job> (and below) of its own
# allocations' jobs with its node SecretID: no token goes in the job.
job "var-greeter" {
  datacenters = ["dc1"]

  group "greeter" {
    task "greeter" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"greeting=$(cat $NOMAD_TASK_DIR/greeting)\"; exec sleep 3600"]
      }

      template {
        data        = "{{ with nomadVar \"nomad/jobs/var-greeter\" }}{{ .greeting }}{{ end }}"
        destination = "local/greeting"
        change_mode = "restart"
      }

      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
