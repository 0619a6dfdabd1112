import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { GSI1, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/table-design';

/** Item reads the API performs. No Scan: every list is a Query on GSI1 (infra/README.md). */
const READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
];

/** TransactWriteItems is authorised through these per-item actions. */
const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/** What a reader needs of the table key (through DynamoDB only). */
const KEY_READ_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey'];

/**
 * What a writer needs of the table key: the CDK's own set for table writes, with
 * `ReEncrypt*` and `GenerateDataKey*` spelt out instead of wildcards.
 */
const KEY_WRITE_ACTIONS = [
  ...KEY_READ_ACTIONS,
  'kms:Encrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
];

export interface OrchestratorTableProps {
  /**
   * Refuses DeleteTable, even from CloudFormation.
   * @default true
   */
  readonly deletionProtection?: boolean;

  /**
   * What happens to the table and its key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The orchestrator's single DynamoDB table (keys and index from
 * functions/shared/table-design.ts): on-demand, PITR, TTL, encrypted with a
 * customer-managed KMS key that rotates yearly.
 *
 * Grants name the table and `GSI1` exactly (no `index/*`) and allow the key only
 * through DynamoDB.
 *
 * @example
 * const table = new OrchestratorTable(this, 'Table');
 * table.grantReadData(triageFunction);
 */
export class OrchestratorTable extends Construct {
  readonly table: dynamodb.Table;
  readonly encryptionKey: kms.Key;

  constructor(scope: Construct, id: string, props: OrchestratorTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.encryptionKey = new kms.Key(this, 'Key', {
      description: 'Master Orchestrator table encryption',
      enableKeyRotation: true,
      removalPolicy,
    });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy,
    });

    this.table.addGlobalSecondaryIndex({
      indexName: GSI1.indexName,
      partitionKey: { name: GSI1.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: GSI1.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  get tableArn(): string {
    return this.table.tableArn;
  }

  /** GetItem, BatchGetItem, Query (table and GSI1), ConditionCheckItem, DescribeTable. */
  grantReadData(grantee: iam.IGrantable): iam.Grant {
    this.grantKey(grantee, KEY_READ_ACTIONS);
    return this.grantTable(grantee, READ_ACTIONS);
  }

  /** Reads plus PutItem, UpdateItem, DeleteItem and BatchWriteItem (transactions included). */
  grantReadWriteData(grantee: iam.IGrantable): iam.Grant {
    this.grantKey(grantee, KEY_WRITE_ACTIONS);
    return this.grantTable(grantee, [...READ_ACTIONS, ...WRITE_ACTIONS]);
  }

  private grantTable(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.table.tableArn, `${this.table.tableArn}/index/${GSI1.indexName}`],
    });
  }

  private grantKey(grantee: iam.IGrantable, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
