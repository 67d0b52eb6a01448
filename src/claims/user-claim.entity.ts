import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** The pivot row that proves a claim. Its id is the claim order. */
@Entity({ name: 'user_claims' })
export class UserClaim {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'bigint' })
  userId: string;

  @Column({ name: 'coupon_id', type: 'bigint' })
  couponId: string;

  @Column({ name: 'claimed_at', type: 'timestamptz' })
  claimedAt: Date;
}
