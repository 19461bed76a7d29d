import { describeKernelCases } from '../kernels/suiteTesting';
import { maskKernelCases } from './masks.suite';

describeKernelCases('pruning masks', maskKernelCases);
