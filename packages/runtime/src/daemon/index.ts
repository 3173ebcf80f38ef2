export {
  API_INFO_FILE,
  API_TOKEN_FILE,
  type ApiAccess,
  ApiAccessError,
  readApiAccess,
} from './api-access.ts';
export {
  type ContactCard,
  type ContactCardError,
  formatContactCard,
  parseContactCard,
} from './contact-card.ts';
export { ApiRefusal, INBOX_PAGE_MAX, type Json, NodeApi, SEND_TTL_MS } from './node-api.ts';
export { CONTACT_CARD_FILE, DaemonError, NodeDaemon, type NodeDaemonOptions } from './node-daemon.ts';
