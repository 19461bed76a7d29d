// The studio's plain button: type="button" (none of its buttons submits a form) with the "button"
// look, small where it sits in a table row or a row of choices, and named for tests by testId.

import type { ButtonHTMLAttributes } from 'react';

interface ButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type' | 'className'> {
  testId?: string;
  small?: boolean;
}

export function Button({ testId, small = false, ...rest }: ButtonProps) {
  return (
    <button
      type="button"
      className={small ? 'button button-small' : 'button'}
      data-testid={testId}
      {...rest}
    />
  );
}
