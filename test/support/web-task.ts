import type { Fleet } from "../standin/index.js";

/**
 * The smallest fleet a Lambda cold start is measured and tested on: cluster `default`, one EC2 host, and one
 * running `web` task (nginx's exporter on 9113) — the common event of a warm fleet, a task on a known host.
 * Returns the task's ARN.
 */
export function addWebTask(fleet: Fleet): string {
  fleet.addCluster("default");
  fleet.registerTaskDefinition({
    family: "web",
    containers: [
      {
        name: "web",
        image: "nginx",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9113", PROMETHEUS_EXPORTER_JOB_NAME: "nginx" },
        portMappings: [{ containerPort: 9113 }],
      },
    ],
  });
  fleet.addHost("default");
  return fleet.runTask("default", { taskDefinition: "web", lastStatus: "RUNNING" });
}
