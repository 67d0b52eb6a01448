import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'coupons' })
export class Coupon {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  /** Case-sensitive, stored and locked exactly as given. */
  @Column({ type: 'varchar', length: 64, unique: true })
  name: string;

  @Column({ type: 'integer' })
  amount: number;

  /** Invariant: remaining_amount = amount - count(user_claims of this coupon). */
  @Column({ name: 'remaining_amount', type: 'integer' })
  remainingAmount: number;

  /** Sale window; NULL bounds mean "no bound", judged by the database clock at claim time. */
  @Column({ name: 'starts_at', type: 'timestamptz', nullable: true })
  startsAt: Date | null;

  @Column({ name: 'ends_at', type: 'timestamptz', nullable: true })
  endsAt: Date | null;

  /** Bumped by every admin update, so remembered "sold out" answers can be checked cheaply. */
  @Column({ name: 'stock_version', type: 'integer', default: 0 })
  stockVersion: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
