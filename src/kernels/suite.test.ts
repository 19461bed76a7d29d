import { kernelSuite } from './suite';
import { describeKernelCases } from './suiteTesting';

describeKernelCases('kernel suite', kernelSuite);
