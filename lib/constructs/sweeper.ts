import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { ServiceFunction } from './service-function';

export interface SweeperProps {
  /** Absolute path of the sweeper's handler module. */
  readonly entry: string;
  /** Environment besides what its `useXxx` grants set. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * A function run once a minute on a schedule that finishes work fallen due, found through the table's `due` index:
 * calls whose stream never started, deliveries whose message never arrived. What it may touch is granted by the
 * stack, as for every function.
 */
export class Sweeper extends Construct {
  public readonly worker: ServiceFunction;
  public readonly schedule: Rule;
  /** A sweep failed; while it keeps failing, missed calls stay open and lost deliveries unsent. */
  public readonly errorsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: SweeperProps) {
    super(scope, id);
    this.worker = new ServiceFunction(this, 'Worker', {
      entry: props.entry,
      description: 'Plivo connector sweeper: ends calls whose stream never started, re-sends lost webhook deliveries',
      timeout: Duration.seconds(60),
      environment: props.environment,
    });
    // The next minute's sweep finds whatever a failed one left, so Lambda's own retries would only run sweeps twice.
    this.worker.function.configureAsyncInvoke({ retryAttempts: 0 });
    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the Plivo connector sweeper every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.worker.function)],
    });
    this.errorsAlarm = this.worker.addErrorsAlarm();
  }
}
