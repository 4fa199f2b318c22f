"""A small inventory of items: the README completes code in this file with the embedded model."""


class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, count=1):
        self.items[name] = self.items.get(name, 0) + count

    def remove(self, name, count=1):
        if name not in self.items:
            raise KeyError(name)
        self.items[name] -= count
        if self.items[name] <= 0:
            del self.items[name]

    def count(self, name):
        return self.items.get(name, 0)

    def total(self):
        return sum(

    def names(self):
        return sorted(self.items)
