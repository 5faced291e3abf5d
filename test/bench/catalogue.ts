import { STORM_SOURCES, sourceName } from "./event-source.js";
import { organisationGroup } from "./organisation.js";
import { type BenchOptions, eventGroup, type Row, reconcileGroup } from "./scenarios.js";
import { stormGroup } from "./storm.js";

export interface Group {
  name: string;
  /** Part of `--quick`. */
  quick: boolean;
  about: string;
  run(options: BenchOptions): Promise<Row[]>;
}

/** Every measured scenario group; `bundle` is measured separately (no stand-in, no engine process). */
export const GROUPS: Group[] = [
  {
    name: "reconcile-1k",
    quick: true,
    about: "reconcile of 1,000 tasks in 1 cluster, cold then warm",
    run: (o) => reconcileGroup("reconcile-1k", { tasks: 1000, clusters: 1 }, o),
  },
  {
    name: "reconcile-10k",
    quick: false,
    about: "reconcile of 10,000 tasks in 10 clusters, cold then warm",
    run: (o) => reconcileGroup("reconcile-10k", { tasks: 10_000, clusters: 10 }, o),
  },
  {
    name: "reconcile-10k-tags-services",
    quick: false,
    about: "reconcile of 10,000 tasks in 10 clusters with INCLUDE=TAGS,SERVICES, cold then warm",
    run: (o) =>
      reconcileGroup("reconcile-10k-tags-services", { tasks: 10_000, clusters: 10 }, o, {
        tags: true,
        services: true,
      }),
  },
  {
    name: "reconcile-50k",
    quick: false,
    about: "reconcile of 50,000 tasks in 50 clusters, cold then warm",
    run: (o) => reconcileGroup("reconcile-50k", { tasks: 50_000, clusters: 50 }, o),
  },
  {
    name: "events-200",
    quick: false,
    about: "one task start / stop event on a 200-task cluster, cold and warm environment",
    run: (o) => eventGroup("events-200", 200, o),
  },
  {
    name: "events-2k",
    quick: true,
    about: "one task start / stop event on a 2,000-task cluster, cold and warm environment",
    run: (o) => eventGroup("events-2k", 2000, o),
  },
  {
    name: "events-2k-services",
    quick: false,
    about:
      "events-2k with INCLUDE=SERVICES (a task of a known service on a known host: no ECS call), then with TAGS too",
    run: async (o) => [
      ...(await eventGroup("events-2k-services", 2000, o, { tags: false, services: true })),
      ...(await eventGroup("events-2k-tags-services", 2000, o, { tags: true, services: true })),
    ],
  },
  {
    name: "organisation",
    quick: false,
    about:
      "one function discovering 20 member accounts (ACCOUNTS, AssumeRole with an external id) × 5 clusters × 20 tasks, cold then warm",
    run: (o) => organisationGroup("organisation", o),
  },
  // One group per event source setting, so `--only storm` runs them all and `--only storm-1s` one.
  ...STORM_SOURCES.map(
    (source): Group => ({
      name: `storm-${sourceName(source)}`,
      quick: false,
      about:
        `5,000 events of a rolling deployment over 60 s (real time) on a 2,000-task cluster; queue window ` +
        `${source.windowSeconds} s, batch ${source.batchSize}, ${source.maxConcurrency} concurrent environments`,
      run: (o) => stormGroup(`storm-${sourceName(source)}`, o, source),
    }),
  ),
];
