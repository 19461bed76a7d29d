// The worker's jobs throttle their memory and progress events as the jobs layer does.
export { type Throttled, throttle } from '../jobs/throttle';
