// The fault scenarios in stress-test/ (also run by `npm run reliability`) share these helpers.
export { RedisNode, freePort } from '../../stress-test/redis-node';
