import { describeKernelCases } from '../kernels/suiteTesting';
import { sparseKernelCases } from './sparse.suite';

describeKernelCases('sparse kernels', sparseKernelCases);
