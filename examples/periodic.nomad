# A periodic batch job: a child job `periodic-report/periodic-<unix time>` is
# launched every 30 seconds (7-field cron: seconds first, year last), and no
# new child starts while the previous one still runs.
#
#   nomadtui job run examples/periodic.nomad
#   nomadtui job status periodic-report         # Next Periodic Launch, children
#   nomadtui job periodic force periodic-report # launch one now
job "periodic-report" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    crons            = ["*/30 * * * * * *"]
    time_zone        = "UTC"
    prohibit_overlap = true
  }

  group "report" {
    task "report" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"report ${NOMAD_JOB_ID} at $(date -u)\"; sleep 5"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
