// The header row of the studio's tables. Numeric columns are right-aligned (class "num") so their
// digits line up; a column given as false is left out, for columns only some runs have.

import type { ReactNode } from 'react';

export interface Column {
  label: ReactNode;
  /** Right-aligned, for numbers. */
  num?: boolean;
  /** Distinguishes columns whose labels are not plain unique strings. */
  key?: string;
  /** What the column counts, where the label alone does not say. */
  title?: string;
}

/** A right-aligned column. */
export const num = (label: ReactNode, key?: string): Column => ({ label, num: true, key });

export function TableHead({ columns }: { columns: readonly (string | Column | false)[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => {
          if (c === false) return null;
          const column = typeof c === 'string' ? { label: c } : c;
          return (
            <th
              key={column.key ?? (typeof column.label === 'string' ? column.label : i)}
              scope="col"
              className={column.num ? 'num' : undefined}
              title={column.title}
            >
              {column.label}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}
