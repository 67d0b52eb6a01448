import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from '../auth/authenticated-user';

@Entity({ name: 'users' })
export class User {
  // bigint comes back from pg as a string; ids stay strings inside the service.
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  /** Unique in any case (index users_username_lower_key on lower(username)); stored as registered. */
  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 60, select: false })
  passwordHash: string;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role: Role;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
