/**
 * STS: only GetCallerIdentity, which the AWS CLI, the SDK's credential chains and
 * tools like the CDK call to learn the account. STS speaks the query protocol: a
 * form-encoded `Action=...` body (or query string) and an XML answer. The caller is
 * always the local account's root, account 000000000000.
 */
import { randomUUID } from 'node:crypto';
import { escapeXml } from '../edge';
import { type AwsRequest, type AwsResponse, LOCAL_ACCOUNT_ID, type Provider } from '../types';

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

/**
 * @example
 * const sts = createStsProvider();
 * // aws --endpoint-url http://127.0.0.1:4566 sts get-caller-identity
 */
export function createStsProvider(): Provider {
  return {
    service: 'sts',
    resourceTypes: [],
    matches: (request: AwsRequest) => request.signingService === 'sts' && !request.path.startsWith('/_aws/'),
    async handle(request: AwsRequest): Promise<AwsResponse> {
      const form = new URLSearchParams(request.body.toString('utf8'));
      const action = request.query.get('Action') ?? form.get('Action') ?? '';
      const requestId = randomUUID();
      if (action !== 'GetCallerIdentity') {
        return xml(
          400,
          `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>InvalidAction</Code>` +
            `<Message>${escapeXml(`sts ${action || '(no Action)'} is not supported by the offline runtime`)}</Message>` +
            `</Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
          requestId,
        );
      }
      return xml(
        200,
        `<GetCallerIdentityResponse xmlns="${NAMESPACE}"><GetCallerIdentityResult>` +
          `<Arn>arn:aws:iam::${LOCAL_ACCOUNT_ID}:root</Arn><UserId>${LOCAL_ACCOUNT_ID}</UserId>` +
          `<Account>${LOCAL_ACCOUNT_ID}</Account></GetCallerIdentityResult>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        requestId,
      );
    },
  };
}

function xml(status: number, body: string, requestId: string): AwsResponse {
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
}
