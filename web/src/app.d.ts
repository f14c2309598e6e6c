// See https://svelte.dev/docs/kit/types#app.d.ts
import type { IncomingMessage } from 'node:http';
import type { ActorRef, ConsoleUser } from '../../services/console-view.ts';
import type { Theme } from '#lib/theme.ts';

declare global {
  namespace App {
    interface Locals {
      /** Who this request acts as, resolved from the session cookie by the express host. */
      actor: ActorRef | null;
      sessionToken: string | null;
      user: ConsoleUser | null;
      theme: Theme;
    }
    // interface Error {}
    // interface PageData {}
    // interface PageState {}
    interface Platform {
      req: IncomingMessage;
    }
  }
}

export {};
