import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Reads deleted_users, the list of revoked token subjects (written by UsersRepository.delete). */
@Injectable()
export class DeletedUsersRepository {
  constructor(private readonly dataSource: DataSource) {}

  async allIds(): Promise<string[]> {
    const rows: { user_id: string }[] = await this.dataSource.query('SELECT user_id FROM deleted_users');
    return rows.map((row) => row.user_id);
  }
}
