// The header row of the studio's tables. Numeric columns are right-aligned (class "num") so their
// digits line up; a column given as false is left out, for columns only some runs have. And the
// table itself, in the box that scrolls it sideways when it is wider than the page.

import type { ReactNode, TableHTMLAttributes } from 'react';

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

/** The column of a row's buttons: named for screen readers only. */
export const ACTIONS: Column = { label: <span className="visually-hidden">Actions</span> };

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

interface ScrollTableProps extends TableHTMLAttributes<HTMLTableElement> {
  columns: readonly (string | Column | false)[];
  /** The table's <caption>, where it has one. */
  caption?: ReactNode;
  'data-testid'?: string;
  /** The rows. */
  children: ReactNode;
}

/** A table with its header row, in a box of its own that scrolls it sideways on a narrow page. */
export function ScrollTable({ columns, caption, children, ...table }: ScrollTableProps) {
  return (
    <div className="table-scroll">
      <table {...table}>
        {caption}
        <TableHead columns={columns} />
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
