import { Duration, Stack } from 'aws-cdk-lib';
import { AlarmStatusWidget, Dashboard, GraphWidget, type Alarm, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';

/** Graphs show one datapoint a minute: media tasks report every 15 s, so a minute's Sum of a count is every task's. */
export const DASHBOARD_PERIOD = Duration.minutes(1);

/** A dashboard `Dashboard` in `scope`, named after its stack, with the state of `alarms` across its top. */
export function stackDashboard(scope: Construct, alarmsTitle: string, alarms: readonly Alarm[]): Dashboard {
  const dashboard = new Dashboard(scope, 'Dashboard', {
    dashboardName: Stack.of(scope).stackName,
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(new AlarmStatusWidget({ title: alarmsTitle, alarms: [...alarms], width: 24 }));
  return dashboard;
}

/** A graph half the dashboard wide: `left` on the left axis, `right` on the right one. */
export function graph(title: string, left: IMetric[], right: IMetric[] = []): GraphWidget {
  return new GraphWidget({ title, left, right, width: 12, height: 6 });
}
