import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';

/** How the fake misbehaves; 'honest' behaves like the real service. */
/** 'oversell-one-coupon' oversells only the second coupon created, of however many. */
export type FakeFault = 'honest' | 'oversell' | 'oversell-one-coupon' | 'double-grant' | 'server-error' | 'hang';

/**
 * A deliberately broken coupon service, for proving the stress tool's checks can fail.
 * It speaks just enough of the API: register, login (token = username), create, claim, read.
 */
export async function startFakeCouponServer(fault: FakeFault): Promise<{ url: string; close: () => Promise<void> }> {
  const coupons = new Map<string, { amount: number; holders: string[]; oversells: boolean }>();
  const hanging: ServerResponse[] = [];
  let claims = 0;
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : {};
    const user = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (req.url === '/api/users/register') return send(res, 201, { id: 1, username: body.username, role: 'user' });
    if (req.url === '/api/users/login') return send(res, 200, { access_token: body.username, token_type: 'Bearer', expires_in: 60 });
    if (req.method === 'POST' && req.url === '/api/coupons') {
      coupons.set(body.name, {
        amount: body.amount,
        holders: [],
        oversells: fault === 'oversell' || (fault === 'oversell-one-coupon' && coupons.size === 1),
      });
      return send(res, 201, { name: body.name, amount: body.amount, remaining_amount: body.amount });
    }
    if (req.url === '/api/coupons/claim') {
      claims++;
      const coupon = coupons.get(body.coupon_name)!;
      if (fault === 'hang' && claims % 50 === 0) return void hanging.push(res);
      if (fault === 'server-error' && claims % 10 === 0) return send(res, 500, { statusCode: 500, code: 'INTERNAL_ERROR' });
      const holds = coupon.holders.includes(user);
      if (holds && fault !== 'double-grant') return send(res, 409, { code: 'ALREADY_CLAIMED' });
      if (coupon.holders.length >= coupon.amount && !coupon.oversells) return send(res, 409, { code: 'SOLD_OUT' });
      if (!holds) coupon.holders.push(user);
      return send(res, 200, { coupon_name: body.coupon_name, user_id: user, claimed_at: new Date().toISOString() });
    }
    const name = decodeURIComponent((req.url ?? '').replace('/api/coupons/', ''));
    const coupon = coupons.get(name);
    if (!coupon) return send(res, 404, { code: 'COUPON_NOT_FOUND' });
    const remaining = Math.max(0, coupon.amount - coupon.holders.length);
    return send(res, 200, { name, amount: coupon.amount, remaining_amount: remaining, claimed_by: coupon.holders });
  };
  const server: Server = createServer((req, res) => void handle(req, res).catch(() => send(res, 500, {})));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      hanging.forEach((res) => res.destroy());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
