import { ClaimRecord } from './claim-runner';
import { databaseSnapshot } from './database-checks';
import { HttpPool } from './http-pool';
import { CouponSale, CouponSnapshot } from './sale-checks';

/** `stock` units over `count` coupons as evenly as they go (the first ones get the remainder). One coupon keeps `name`. */
export function splitStock(name: string, stock: number, count: number): { name: string; stock: number }[] {
  if (count === 1) return [{ name, stock }];
  return Array.from({ length: count }, (_, i) => ({
    name: `${name}_${i + 1}`,
    stock: Math.floor(stock / count) + (i < stock % count ? 1 : 0),
  }));
}

/** Each coupon's stock, distinct claimants, and what the API and the database say after the sale. */
export async function couponSales(
  http: HttpPool,
  token: string,
  databaseUrl: string | null,
  coupons: { name: string; stock: number }[],
  records: ClaimRecord[],
): Promise<CouponSale[]> {
  const claimants = new Map<string, Set<string>>(coupons.map((c) => [c.name, new Set()]));
  for (const record of records) claimants.get(record.coupon)?.add(record.username);
  const sales: CouponSale[] = [];
  for (const c of coupons) {
    const answer = await http.request('GET', `/api/coupons/${c.name}`, undefined, token);
    sales.push({
      name: c.name,
      stock: c.stock,
      claimants: claimants.get(c.name)!.size,
      coupon: answer.status === 200 ? (answer.body as CouponSnapshot) : null,
      database: databaseUrl ? await databaseSnapshot(databaseUrl, c.name) : null,
    });
  }
  return sales;
}
