// See https://svelte.dev/docs/kit/types#app.d.ts
import type { IncomingMessage } from 'node:http';
import type { ActorRef, ConsoleUser } from '#lib/server/view/types.ts';
import type { HeaderData } from '#lib/header.ts';
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
    interface PageData {
      /** Set by the (app) layout and by pages that know more; read by the shared header. */
      header?: HeaderData;
    }
    // interface PageState {}
    interface Platform {
      req: IncomingMessage;
    }
  }
}

export {};
