import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { OrchestratorFunction } from './orchestrator-function';

export interface JwtSigningKeyProps {
  /**
   * Days between rotations of the signing key.
   * @default Duration.days(30)
   */
  readonly rotationInterval?: Duration;

  /**
   * What happens to the secret and its KMS key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The HS256 signing key for bearer tokens (DESIGN §5): a 64-character random
 * secret generated at deploy, encrypted with its own customer-managed KMS key and
 * rotated on a schedule by `functions/rotate-signing-key`.
 *
 * @example
 * const signingKey = new JwtSigningKey(this, 'JwtSigningKey');
 * signingKey.grantRead(authorizer);
 */
export class JwtSigningKey extends Construct {
  readonly secret: secretsmanager.Secret;
  readonly encryptionKey: kms.Key;
  readonly rotationFunction: OrchestratorFunction;

  constructor(scope: Construct, id: string, props: JwtSigningKeyProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.encryptionKey = new kms.Key(this, 'Key', {
      description: 'Master Orchestrator JWT signing key encryption',
      enableKeyRotation: true,
      removalPolicy,
    });

    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'Master Orchestrator HS256 signing key for API and WebSocket bearer tokens',
      encryptionKey: this.encryptionKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });

    this.rotationFunction = new OrchestratorFunction(this, 'RotationFunction', {
      name: 'rotate-signing-key',
      description: 'Rotates the Master Orchestrator JWT signing key (Secrets Manager rotation steps)',
      timeout: Duration.seconds(30),
      removalPolicy,
      extraWildcardResourceReason:
        'secretsmanager:GetRandomPassword (the rotation step that generates the new key) supports no resource-level permissions: AWS requires Resource "*".',
    });

    // addRotationSchedule grants exactly what rotation needs: DescribeSecret,
    // GetSecretValue, PutSecretValue and UpdateSecretVersionStage on this secret,
    // GetRandomPassword on `*`, the key through Secrets Manager, and the invoke
    // permission for secretsmanager.amazonaws.com.
    this.secret.addRotationSchedule('RotationSchedule', {
      rotationLambda: this.rotationFunction.function,
      automaticallyAfter: props.rotationInterval ?? Duration.days(30),
      // The value was generated at deploy: a first rotation straight away adds nothing.
      rotateImmediatelyOnUpdate: false,
    });
  }

  get secretArn(): string {
    return this.secret.secretArn;
  }

  /** GetSecretValue and DescribeSecret on the secret, and Decrypt on its key through Secrets Manager. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }
}
