import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ORIGIN_SECRET_HEADER } from '../../lambdas/edge';
import type { ServiceHttpApi } from './service-http-api';

export interface ApiEdgeProps {
  /** The API it fronts, on its execute-api endpoint (no custom domain of its own). */
  readonly api: ServiceHttpApi;
  /** ARN of a CloudFront-scope WAF web ACL (`EdgeFirewall`, in us-east-1). */
  readonly webAclArn: string;
  /** Custom domain of the distribution; requires `certificateArn`. @default - the distribution's cloudfront.net name */
  readonly domainName?: string;
  /** ACM certificate covering `domainName`; CloudFront takes them only from us-east-1. @default - none */
  readonly certificateArn?: string;
}

/**
 * A CloudFront distribution in front of the whole HTTP API, so AWS WAF can judge each request by its source address:
 * nothing cached, every method, every viewer header but Host forwarded, HTTPS only (TLS 1.2 to the origin). Each
 * request to the origin carries a secret header, generated at deploy time in Secrets Manager; `requireEdge` makes a
 * function refuse any request without it, so going around the distribution to execute-api gains nothing.
 */
export class ApiEdge extends Construct {
  public readonly distribution: Distribution;
  public readonly originSecret: Secret;
  /** Base URL callers (and Plivo) use, without a trailing slash. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ApiEdgeProps) {
    super(scope, id);
    if ((props.domainName === undefined) !== (props.certificateArn === undefined)) {
      throw new Error(`ApiEdge ${id}: domainName and certificateArn go together; set both or neither.`);
    }
    const certificateRegion = props.certificateArn?.split(':')[3];
    if (certificateRegion !== undefined && certificateRegion !== 'us-east-1') {
      throw new Error(
        `ApiEdge ${id}: certificate ${props.certificateArn} is in ${certificateRegion}, but CloudFront only takes ` +
          'certificates from us-east-1; request or import it there.',
      );
    }
    const stack = Stack.of(this);
    this.originSecret = new Secret(this, 'OriginSecret', {
      description: `Header ${ORIGIN_SECRET_HEADER} CloudFront sends the Plivo connector API; its functions refuse requests without it`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Plivo connector API (REST API and Answer URL)',
      defaultBehavior: {
        origin: new HttpOrigin(`${props.api.httpApi.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`, {
          protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [OriginSslPolicy.TLS_V1_2],
          // A dynamic reference: CloudFormation reads the value at deploy time, the template holds only the secret's ARN.
          customHeaders: { [ORIGIN_SECRET_HEADER]: this.originSecret.secretValue.unsafeUnwrap() },
          readTimeout: Duration.seconds(30),
        }),
        allowedMethods: AllowedMethods.ALLOW_ALL,
        // Plivo and API clients call https URLs; a redirect would drop a POST's body.
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        // With caching disabled, this policy forwards Authorization too (the REST API's bearer tokens); Host stays
        // execute-api's, which API Gateway routes by.
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      webAclId: props.webAclArn,
      httpVersion: HttpVersion.HTTP2_AND_3,
      // A TLS policy only applies with our own certificate: cloudfront.net's is AWS's to set.
      ...(props.domainName !== undefined &&
        props.certificateArn !== undefined && {
          domainNames: [props.domainName],
          certificate: Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
          minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
        }),
    });
    this.url = `https://${props.domainName ?? this.distribution.distributionDomainName}`;

    Validations.of(this.originSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'CloudFront and the functions read the value when CloudFormation deploys them, not at run time: a rotation ' +
        'outside a deploy would refuse every request until the next one. It rotates by replacing the secret in a deploy.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Plivo and tenants call from anywhere; the web ACL limits each source instead of whole countries.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR3',
      reason:
        "The web ACL logs every blocked request with its source address, and API Gateway's access log records every " +
        'request that reaches the API; CloudFront standard logs would need an ACL-enabled S3 bucket for a third copy.',
    });
    if (props.domainName === undefined) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          "On its cloudfront.net name the distribution uses CloudFront's default certificate, whose TLS policy AWS " +
          'fixes; with apiDomainName set it requires TLSv1.2_2021.',
      });
    }
  }

  /** Makes `fn` refuse requests that lack the origin secret (`ORIGIN_SECRET`, resolved by CloudFormation at deploy). */
  public requireEdge(fn: LambdaFunction): void {
    fn.addEnvironment('ORIGIN_SECRET', this.originSecret.secretValue.unsafeUnwrap());
  }
}
