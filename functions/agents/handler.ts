/**
 * The agent registry: GET/POST agents, GET/DELETE agents/{id}, POST agents/{id}/heartbeat.
 * One function; the router dispatches on the route API Gateway matched.
 */
import * as z from 'zod';
import type { AgentRegistration, HeartbeatRequest } from '#core/wire';
import { documentClient } from '#shared/clients/dynamodb';
import { loadConfig, TableEnv } from '#shared/config';
import { type HttpRequest, httpHandler, httpRouter, routeById } from '#shared/http';
import { AgentRepository } from '#shared/repository/agents';

const config = loadConfig(z.object(TableEnv));
const agents = new AgentRepository(documentClient, config.TABLE_NAME);

/** The stack has already checked `{id}` is an Identifier. */
const agentId = (request: HttpRequest<unknown>) => String(request.pathParameters.id);
const now = () => new Date().toISOString();

export const handler = httpRouter([
  httpHandler(routeById('listAgents'), async () => ({ body: { agents: await agents.list() } })),
  httpHandler<AgentRegistration>(routeById('registerAgent'), async ({ body }) => {
    const { record, created } = await agents.register(body, now());
    return { status: created ? 201 : 200, body: record };
  }),
  httpHandler(routeById('getAgent'), async (request) => ({ body: await agents.get(agentId(request)) })),
  httpHandler(routeById('deregisterAgent'), async (request) => {
    await agents.deregister(agentId(request));
    return {};
  }),
  httpHandler<HeartbeatRequest>(routeById('heartbeat'), async (request) => ({
    body: await agents.heartbeat(agentId(request), request.body, now()),
  })),
]);
