import { Router } from 'express';
import { principalOf } from './request-context.js';

/** `GET /whoami`: the principal the verified token names, for any role. Never cached. */
export function createWhoamiRouter(): Router {
  const router = Router();
  router.get('/whoami', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ principal: principalOf(res) });
  });
  return router;
}
