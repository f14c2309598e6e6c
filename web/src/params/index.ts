import { defineParams } from '@sveltejs/kit/params';
import { database } from './database.ts';

// Route parameter matchers; routes name them as `[name=database]`.
export const params = defineParams({ database });
